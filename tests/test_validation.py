"""Bad input gets a ValueError or TypeError that names the problem and the fix.

Each test feeds one kind of bad input to fit, partial_fit or predict and checks
the exception type and that its message names the column, value or shape and
says what to do; the property tests at the end feed random shapes, dtypes and
values and check that nothing else ever escapes (no torch error, no crash).
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.exceptions import NotFittedError

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn._tabular import FREE_TEXT_MIN_DISTINCT, TableEncoding

TINY = dict(hidden_layer_sizes=(4,), n_steps=2, max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def frame(data):
    X, y = data
    return pd.DataFrame(X, columns=["a", "b", "c"]), y


@pytest.fixture(scope="module")
def fitted_frame(frame):
    X, y = frame
    return SNNClassifier(**TINY).fit(X, y)


# ------------------------------------------------------------------ NaN, inf
@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_non_finite_X_names_column_and_rows(data, value, kind):
    """NaN or infinity in a numpy X names the column index and the rows."""
    X, y = data
    bad = X.copy()
    bad[[4, 7], 2] = value
    with pytest.raises(ValueError, match=rf"{kind} in column 2 \(rows \[4, 7\]\).*SimpleImputer"):
        SNNClassifier(**TINY).fit(bad, y)
    with pytest.raises(ValueError, match=rf"{kind} in column 2 \(rows \[4, 7\]\)"):
        SNNClassifier(**TINY).fit(X, y).predict(bad)


def test_nan_in_dataframe_names_column_at_fit_and_predict(frame, fitted_frame):
    """A DataFrame NaN (also pandas' NA) is reported by column name, in fit and in predict."""
    X, y = frame
    bad = X.copy()
    bad.loc[5, "b"] = np.nan
    with pytest.raises(ValueError, match=r"NaN in column 'b' \(rows with index labels \[5\]\)"):
        SNNClassifier(**TINY).fit(bad, y)
    with pytest.raises(ValueError, match=r"NaN in column 'b' \(rows with index labels \[5\]\)"):
        fitted_frame.predict(bad)
    nullable = X.assign(n=pd.array([1, None] * 20, dtype="Int64"))
    with pytest.raises(ValueError, match=r"NaN in column 'n' \(rows with index labels \[1, 3, 5, 7, 9\]\)"):
        SNNClassifier(**TINY).fit(nullable, y)


def test_row_labels_hold_across_the_blocks_of_a_large_input(fitted_frame, frame):
    """Rows are named by their index label, though a large input is scaled in blocks."""
    X, _ = frame
    big = pd.concat([X] * 2000, ignore_index=True)  # 80,000 rows: two blocks
    big.loc[70_001, "c"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column 'c' \(rows with index labels \[70001\]\)"):
        fitted_frame.predict(big)


@pytest.mark.parametrize("make", [SNNClassifier, SNNRegressor])
@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_y_names_rows(data, make, value, kind):
    """NaN or infinity in y names the rows and says to drop them."""
    X, y = data
    bad = y.astype(float)
    bad[[3, 9]] = value
    with pytest.raises(ValueError, match=rf"y contains {kind} at rows \[3, 9\]; drop those rows"):
        make(**TINY).fit(X, bad)


@pytest.mark.parametrize("make", [SNNClassifier, SNNRegressor])
def test_missing_labels_in_object_y(data, make):
    """None in an object y is a missing label, not an 'unknown label type'."""
    X, y = data
    labels = y.astype(object)
    labels[6] = None
    with pytest.raises(ValueError, match=r"missing .*\(None or NaN\) at rows \[6\]"):
        make(**TINY).fit(X, labels)


# ------------------------------------------------------------------ shapes
def test_empty_input(data, frame):
    """No rows or no columns: the shape and what is needed."""
    X, y = data
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 3\)\)"):
        SNNClassifier(**TINY).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 3\)\); X must have rows"):
        SNNClassifier(**TINY).fit(frame[0].iloc[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(40, 0\)\)"):
        SNNClassifier(**TINY).fit(X[:, :0], y)
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(40, 0\)\).*at least one column"):
        SNNClassifier(**TINY).fit(frame[0].iloc[:, :0], y)


@pytest.mark.parametrize("make", [SNNClassifier, SNNRegressor])
def test_single_sample_fit_is_refused_but_predict_works(data, make):
    """One row cannot give each column a range: fit says so; predicting one row is fine."""
    X, y = data
    with pytest.raises(ValueError, match=r"X has 1 sample \(shape=\(1, 3\)\).*reshape\(-1, 1\)"):
        make(**TINY).fit(X[:1], y[:1])
    assert make(**TINY).fit(X, y).predict(X[:1]).shape == (1,)


def test_single_class(data):
    """Labels of one class: the class, and to check the split or pass `classes`."""
    X, _ = data
    with pytest.raises(ValueError, match=r"only one class: 'yes'\. .*stratify=y"):
        SNNClassifier(**TINY).fit(X, ["yes"] * len(X))


def test_wrong_number_of_features_at_predict(data):
    """Predicting with another number of columns names both numbers."""
    X, y = data
    est = SNNClassifier(**TINY).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 2 features, but SNNClassifier is expecting 3 .*columns of fit"):
        est.predict(X[:, :2])


def test_one_dimensional_and_three_dimensional_X(data):
    """X must be a table: 1-D and 3-D inputs are refused with the shape."""
    X, y = data
    with pytest.raises(ValueError, match="Expected 2D array"):
        SNNClassifier(**TINY).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="dim 3"):
        SNNClassifier(**TINY).fit(X[:, :, None], y)


# ------------------------------------------------------------------ DataFrame columns
@pytest.mark.parametrize(
    "change, named",
    [
        (lambda X: X[["a", "b"]], r"missing:\n- c\n"),
        (lambda X: X.assign(d=1.0), r"unseen at fit time:\n- d\n"),
        (lambda X: X[["c", "a", "b"]], r"must be in the same order"),
        (lambda X: X.rename(columns={"a": "z"}), r"unseen at fit time:\n- z\n.*missing:\n- a\n"),
    ],
    ids=["missing", "extra", "reordered", "renamed"],
)
def test_changed_columns_say_what_changed_and_the_fix(fitted_frame, frame, change, named):
    """Missing, extra, reordered or renamed columns: which ones, and X[model.feature_names_in_]."""
    X, _ = frame
    with pytest.raises(ValueError, match=named) as error:
        fitted_frame.predict(change(X))
    assert "X[model.feature_names_in_], which is ['a', 'b', 'c']" in str(error.value)


def test_the_suggested_fix_for_reordered_columns_works(fitted_frame, frame):
    """Reordered columns are an error, as in scikit-learn; selecting feature_names_in_ fixes it."""
    X, _ = frame
    reordered = X[["c", "a", "b"]]
    fixed = reordered[fitted_frame.feature_names_in_]
    np.testing.assert_array_equal(fitted_frame.predict_proba(fixed), fitted_frame.predict_proba(X))


def test_array_for_a_model_with_categorical_columns(frame):
    """A numpy array cannot stand for a DataFrame with categories: a TypeError says so."""
    X, y = frame
    est = SNNClassifier(**TINY).fit(X.assign(colour=["red", "blue"] * 20), y)
    with pytest.raises(TypeError, match=r"categorical columns \['colour'\]; pass a DataFrame"):
        est.predict(X.assign(colour=0).to_numpy())


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("as_type", [list, lambda v: np.array(v, dtype=object), pd.Series])
def test_mixed_label_types(data, as_type):
    """[1, 'a'] is refused (numpy would silently make it ['1', 'a'])."""
    X, _ = data
    labels = as_type([1, "a"] * 20)
    with pytest.raises(ValueError, match=r"y mixes label types: 1 \(int\) and 'a' \(str\).*astype\(str\)"):
        SNNClassifier(**TINY).fit(X, labels)


def test_partial_fit_with_labels_of_another_type(data):
    """Text labels after numeric classes: a ValueError naming both, not numpy's TypeError."""
    X, y = data
    est = SNNClassifier(**TINY).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \['a', 'b'\] not in classes_ \[0, 1\]"):
        est.partial_fit(X, np.where(y == 1, "a", "b"))
    with pytest.raises(ValueError, match="mixes label types"):
        SNNClassifier(**TINY).partial_fit(X, y, classes=[0, "b"])


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("huge", [1e30, 1e300, np.finfo(np.float64).max])
def test_huge_values_fit_and_predict_finite(data, huge):
    """Values up to the largest float64 scale without overflow: inputs in [0, 1], finite output."""
    X, y = data
    X = X.copy()
    X[:, 0] = np.where(y == 1, huge, -huge)
    X[::7, 0] = 0.0
    est = SNNClassifier(**TINY).fit(X, y)
    scaled = est._scaler.transform(X)
    assert np.isfinite(scaled).all() and scaled.min() == 0.0 and scaled.max() == 1.0
    assert sorted(set(scaled[:, 0].tolist())) == [0.0, 0.5, 1.0]
    assert np.isfinite(est.predict_proba(X)).all()
    assert np.isfinite(est.predict_proba(X * 0.5)).all()
    reg = SNNRegressor(**TINY).fit(X, X[:, 0])  # huge targets too
    assert np.isfinite(reg.predict(X)).all()


def test_huge_values_far_outside_the_fitted_range_clip(data):
    """A value beyond the fitted range clips to 0 or 1 instead of overflowing to inf."""
    X, y = data
    est = SNNClassifier(**TINY).fit(X, y)
    extreme = X[:4].copy()
    extreme[:, 1] = [np.finfo(np.float64).max, -np.finfo(np.float64).max, 1e300, -1e300]
    scaled = est._scaler.transform(extreme)
    np.testing.assert_array_equal(scaled[:, 1], [1.0, 0.0, 1.0, 0.0])
    assert np.isfinite(est.predict_proba(extreme)).all()


def test_constant_column_scales_to_zero(data):
    """A constant column works and scales to 0 (no division by zero)."""
    X, y = data
    X = np.column_stack([X, np.full(len(X), 7.5)])
    est = SNNClassifier(**TINY).fit(X, y)
    assert est._scaler.scale_[3] == 0.0
    assert (est._scaler.transform(X)[:, 3] == 0.0).all()
    assert np.isfinite(est.predict_proba(X)).all()


def test_free_text_column_is_refused_with_the_fix(frame):
    """An object column of mostly unique strings is free text: drop it or encode it."""
    X, y = frame
    n = 3 * FREE_TEXT_MIN_DISTINCT
    rng = np.random.default_rng(0)
    text = pd.DataFrame({
        "a": rng.normal(size=n),
        "comment": [f"customer {i} wrote something" for i in range(n)],
    })
    labels = np.arange(n) % 2
    with pytest.raises(ValueError, match=r"'comment' looks like free text: 150 distinct values in 150 rows.*drop"):
        SNNClassifier(**TINY).fit(text, labels)
    # Declared a category, or with few distinct values, it is one-hot encoded.
    SNNClassifier(**TINY).fit(text.astype({"comment": "category"}), labels)
    few = text.assign(comment=[f"kind {i % 5}" for i in range(n)])
    assert SNNClassifier(**TINY).fit(few, labels)._scaler.categorical_ == [1]


def test_numbers_stored_as_text_are_read_as_numbers(frame):
    """An object or string column of '1.5'-like values is numeric, scaled like the floats."""
    X, y = frame
    as_text = X.assign(b=X["b"].map(repr).astype(object), c=X["c"].map(repr).astype("string"))
    scaler = TableEncoding().fit(as_text)
    assert scaler.numeric_ == [0, 1, 2] and scaler.categorical_ == []
    np.testing.assert_array_equal(scaler.transform(as_text), TableEncoding().fit(X).transform(X))
    est = SNNClassifier(**TINY).fit(as_text, y)
    bad = as_text.copy()
    bad.loc[3, "b"] = "n/a"
    with pytest.raises(ValueError, match=r"Column 'b' held numbers in fit \(dtype object\) but holds 'n/a' "
                                         r"\(str; dtype object\) in the rows with index labels \[3\]"):
        est.predict(bad)


def test_object_column_of_numbers_is_numeric(frame):
    """A DataFrame column of Python floats with dtype object is scaled, not one-hot encoded."""
    X, y = frame
    scaler = TableEncoding().fit(X.astype(object))
    assert scaler.numeric_ == [0, 1, 2]
    np.testing.assert_array_equal(scaler.transform(X.astype(object)), TableEncoding().fit(X).transform(X))


@pytest.mark.parametrize(
    "column, fix",
    [
        (pd.date_range("2020-01-01", periods=40), r"\.dt\.total_seconds\(\) or X\['when'\]\.dt\.dayofyear"),
        (pd.date_range("2020-01-01", periods=40, tz="UTC"), r"\.dt\.dayofyear"),
        (pd.timedelta_range(0, periods=40, freq="h"), r"X\['when'\]\.dt\.total_seconds\(\)"),
        (pd.period_range("2020-01", periods=40, freq="M"), r"dt\."),
        (list(pd.date_range("2020-01-01", periods=40).date), r"dt\."),
    ],
    ids=["datetime", "datetime-tz", "timedelta", "period", "date-objects"],
)
def test_date_columns_are_refused_with_a_conversion(frame, column, fix):
    """Dates and durations: a TypeError naming the column and how to make numbers of it."""
    X, y = frame
    with pytest.raises(TypeError, match=rf"Column 'when' holds dates or times .*{fix}"):
        SNNClassifier(**TINY).fit(X.assign(when=column), y)


def test_datetime_array(data):
    """A numpy datetime64 array is refused too, with a conversion to seconds."""
    X, y = data
    dates = np.datetime64("2020-01-01") + np.arange(40 * 3).reshape(40, 3).astype("timedelta64[D]")
    with pytest.raises(TypeError, match=r"dates or times \(dtype datetime64\[D\]\).*timedelta64\(1, 's'\)"):
        SNNClassifier(**TINY).fit(dates, y)


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array, sparse.coo_matrix])
def test_sparse_input_is_densified_as_mlp_accepts_it(data, container):
    """Sparse X trains and predicts as its dense form does (MLPClassifier accepts sparse X too)."""
    X, y = data
    dense = SNNClassifier(**TINY).fit(X, y)
    fitted = SNNClassifier(**TINY).fit(container(X), y)
    np.testing.assert_array_equal(fitted.predict_proba(container(X)), dense.predict_proba(X))


def test_sparse_input_too_large_to_densify_is_refused_with_the_fix(data, monkeypatch):
    """Above a size limit a sparse X is refused, with its dense size and what to do instead."""
    from pynmsnn import _input

    X, y = data
    monkeypatch.setattr(_input, "SPARSE_DENSE_LIMIT", 100)
    with pytest.raises(TypeError, match=r"sparse matrix of shape \(40, 3\).*0\.0 GiB as float64.*TruncatedSVD"):
        SNNClassifier(**TINY).fit(sparse.csr_matrix(X), y)


def test_complex_and_text_arrays(data):
    """Complex numbers and text in a numpy array: which value, and what to pass instead."""
    X, y = data
    with pytest.raises(ValueError, match=r"Complex data not supported: X has dtype complex128.*X\.real"):
        SNNClassifier(**TINY).fit(X + 1j, y)
    text = X.astype(object)
    text[5, 1] = "high"
    with pytest.raises(ValueError, match=r"text that is not a number: 'high' in column 1.*DataFrame"):
        SNNClassifier(**TINY).fit(text, y)
    with pytest.raises(ValueError, match=r"Complex data not supported: column 'a'"):
        SNNClassifier(**TINY).fit(pd.DataFrame({"a": X[:, 0] + 1j}), y)


def test_unfitted_predict(data):
    """Predicting before fit is scikit-learn's NotFittedError."""
    X, _ = data
    with pytest.raises(NotFittedError):
        SNNClassifier(**TINY).predict(X)


# ------------------------------------------------------------------ property tests
# Values of a clean column, and the bad ones mixed into a dirty column.
CLEAN = {
    "float64": [0.0, 1.0, -2.5, 1e30, -1e30, 1e308, 7.25],
    "float32": [0.0, 1.0, -2.5, 3e38, 7.25],
    "int64": [0, 1, -3, 2**62],
    "bool": [True, False],
    "category": ["a", "b", "c"],
    "str": ["a", "b", "1.5", "-2"],
    "object": [1.5, "a", 3, True],
}
BAD = [np.nan, np.inf, -np.inf, None, "", "x y z", 2**70, {"a": 1}, pd.NaT, 1j]


NUMERIC = ["float64", "float32", "int64", "bool"]


@st.composite
def tables(draw, max_rows=8, clean=None):
    """A numpy array, nested list or DataFrame of random shape, dtypes and values.

    Half are clean: at least 4 rows of values of each column's dtype (text only
    in DataFrames), most of which fit. The other half have any shape, even
    empty, and columns that mix in NaN, infinity, None, text, huge integers,
    dicts, NaT or complex numbers.
    """
    clean = draw(st.booleans()) if clean is None else clean
    n_rows = draw(st.integers(4, max_rows) if clean else st.integers(0, max_rows))
    n_cols = draw(st.integers(1, 3) if clean else st.integers(0, 3))
    container = draw(st.sampled_from(["frame", "array", "list"]))
    dtypes = NUMERIC if clean and container != "frame" else sorted(CLEAN)
    columns = {}
    for j in range(n_cols):
        dtype = draw(st.sampled_from(dtypes))
        pool = CLEAN[dtype] + ([] if clean or draw(st.booleans()) else BAD)
        values = draw(st.lists(st.sampled_from(pool), min_size=n_rows, max_size=n_rows))
        columns[f"c{j}"] = _column(values, dtype)
    frame = pd.DataFrame(columns, index=range(n_rows))
    if container == "frame":
        return frame
    array = frame.to_numpy()
    return array if container == "array" else array.tolist()


def _column(values, dtype):
    """``values`` as a column of ``dtype`` where they convert, else as objects."""
    try:
        if dtype == "object":
            return pd.Series(values, dtype=object)
        if dtype == "str":
            return pd.Series(values, dtype="string")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.Series(values).astype(dtype)
    except (TypeError, ValueError, OverflowError):
        return pd.Series(values, dtype=object)


# Clean labels: at least two classes of one type, repeated over the rows by _y_for.
clean_labels = st.one_of(
    st.lists(st.sampled_from([0, 1, 2]), min_size=2, max_size=3, unique=True),
    st.lists(st.sampled_from(["a", "b"]), min_size=2, max_size=2, unique=True),
)
labels = st.one_of(
    clean_labels, st.lists(st.sampled_from([0, 1, 2, "a", "b", None, np.nan, 1.5, True]), max_size=8)
)


def _assert_clean_error(error):
    """A ValueError or TypeError whose message is non-empty and never torch's."""
    assert isinstance(error, (ValueError, TypeError)), f"{type(error).__name__}: {error}"
    assert str(error).strip(), f"empty message from {type(error).__name__}"
    assert "torch" not in str(error).lower(), str(error)


def _call(method, *args, **kwargs):
    """Run ``method``; return its result, or None after checking the error it raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return method(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the test is what escapes
            _assert_clean_error(error)
            return None


def _y_for(X, y):
    """Labels of the table's length most of the time (a mismatch is also bad input)."""
    n_rows = len(X)
    return (y * (n_rows // max(len(y), 1) + 1))[:n_rows] if y else [0, 1] * (n_rows // 2) + [0] * (n_rows % 2)


PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(X=tables(), y=labels, exact=st.sampled_from([True, True, True, False]))
def test_fit_raises_only_clear_errors(X, y, exact):
    """fit on random input either works (and then predicts finite values) or raises a clean error."""
    y = _y_for(X, y) if exact else y
    est = _call(SNNClassifier(**TINY).fit, X, y)
    if est is not None:
        proba = _call(est.predict_proba, X)
        assert proba is None or np.isfinite(proba).all()


@PROPERTY_SETTINGS
@given(X=tables(clean=True), y=clean_labels)
def test_clean_random_tables_fit_and_predict(X, y):
    """Clean input of any numeric or categorical dtypes, even 1e308 or 3e38, fits and predicts finite values."""
    y = _y_for(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = SNNClassifier(**TINY).fit(X, y)
        proba = est.predict_proba(X)
    assert proba.shape == (len(X), len(set(y))) and np.isfinite(proba).all()


@PROPERTY_SETTINGS
@given(X=tables(), y=st.lists(st.sampled_from([0.5, -3.0, 1e30, np.nan, np.inf, None, "x", 2]), max_size=8))
def test_regressor_fit_raises_only_clear_errors(X, y):
    """The same for the regressor, whose targets are numbers."""
    est = _call(SNNRegressor(**TINY).fit, X, _y_for(X, y))
    if est is not None:
        predictions = _call(est.predict, X)
        assert predictions is None or np.isfinite(predictions).all()


@PROPERTY_SETTINGS
@given(first=tables(), then=tables(), y=labels)
def test_partial_fit_and_predict_raise_only_clear_errors(first, then, y):
    """partial_fit twice, then predict, on unrelated random tables: only clean errors."""
    est = SNNClassifier(**TINY)
    if _call(est.partial_fit, first, _y_for(first, y), classes=[0, 1, 2, "a"]) is None:
        return
    _call(est.partial_fit, then, _y_for(then, y))
    if hasattr(est, "module_"):
        proba = _call(est.predict_proba, then)
        assert proba is None or np.isfinite(proba).all()


@PROPERTY_SETTINGS
@given(X=tables(max_rows=5))
def test_predict_on_random_input_raises_only_clear_errors(X, fitted_models):
    """A model fitted on clean data, asked about random tables: a prediction or a clean error."""
    for est in fitted_models:
        predictions = _call(est.predict, X)
        if predictions is not None:
            assert len(predictions) == len(X)


@pytest.fixture(scope="module")
def fitted_models():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"c0": rng.normal(size=30), "c1": ["a", "b", "c"] * 10, "c2": rng.normal(size=30)})
    y = np.arange(30) % 2
    return [SNNClassifier(**TINY).fit(frame, y), SNNClassifier(**TINY).fit(frame[["c0", "c2"]].to_numpy(), y)]


# ------------------------------------------------------------------ containers that are not tables
@pytest.mark.parametrize("make", [SNNClassifier, SNNRegressor])
def test_torch_tensors_that_require_grad_are_read_as_numbers(data, make):
    """A tensor that requires grad (X or y) fits and predicts like its numpy values, not a torch error."""
    import torch

    X, y = data
    tensor_X = torch.tensor(X, requires_grad=True)
    tensor_y = torch.tensor(y.astype(float) if make is SNNRegressor else y, requires_grad=make is SNNRegressor)
    est = make(**TINY).fit(tensor_X, tensor_y)
    reference = make(**TINY).fit(X, y.astype(float) if make is SNNRegressor else y)
    np.testing.assert_array_equal(est.predict(tensor_X), reference.predict(X))


def test_a_row_as_a_series_says_to_pass_a_one_row_frame(fitted_frame, frame):
    """frame.iloc[0] is a Series: the error says frame.iloc[[0]], which predicts that row."""
    X, _ = frame
    with pytest.raises(ValueError, match=r"a single row; pass a DataFrame of one row: frame\.iloc\[\[i\]\]"):
        fitted_frame.predict(X.iloc[0])
    assert fitted_frame.predict(X.iloc[[0]]).tolist() == fitted_frame.predict(X)[:1].tolist()
    with pytest.raises(ValueError, match=r"pandas Series of 40 values.*X\.to_frame\(\)"):
        SNNClassifier(**TINY).fit(X["a"], np.arange(40) % 2)


def test_a_dict_and_duplicated_columns_are_refused_with_the_fix(fitted_frame, frame):
    """A dict instead of a DataFrame, or two columns of one name: what to pass instead, in fit and predict."""
    X, y = frame
    with pytest.raises(TypeError, match=r"X is a dict; .*pd\.DataFrame\(X\)"):
        SNNClassifier(**TINY).fit(X.to_dict("list"), y)
    with pytest.raises(TypeError, match=r"X is a dict"):
        fitted_frame.predict(X.to_dict("list"))
    twice = X.set_axis(["a", "b", "a"], axis=1)
    for call in (lambda: SNNClassifier(**TINY).fit(twice, y), lambda: fitted_frame.predict(twice)):
        with pytest.raises(ValueError, match=r"duplicated column names \['a'\] \(at positions \[0, 2\]\)"):
            call()


# ------------------------------------------------------------------ training that diverges
@pytest.mark.parametrize(
    "param, value",
    [("alpha", 1e300), ("spike_penalty", 1e300), ("threshold", 1e300), ("refractory_penalty", 1e308)],
)
@pytest.mark.parametrize("make", [SNNClassifier, SNNRegressor])
def test_divergence_names_the_parameter_that_caused_it(data, make, param, value):
    """A value far out of range that makes training diverge is named, with its usual range and default.

    The subtracting reset takes ``threshold + refractory_penalty`` off after a spike, so huge values
    of either turn the gradient through the reset into NaN; ``reset='zero'`` only silences the layer
    (the firing-health warning then names the threshold)."""
    X, y = data
    est = make(**{**TINY, "reset": "subtract", param: value})
    default = make().get_params()[param]
    advice = re.escape(f"Lower {param} (now {value:g}), far above its usual range (at most 1000; the default is {default:g})")
    with pytest.raises(ValueError, match=rf"diverged in its first epoch .*{advice}") as error:
        est.fit(X, y)
    assert "learning_rate_init" not in str(error.value)
    with pytest.raises(NotFittedError):
        est.predict(X)


# ------------------------------------------------------------------ constant and tiny columns
@settings(max_examples=15, deadline=None, derandomize=True)
@given(value=st.one_of(st.floats(-1e300, 1e300, allow_nan=False), st.sampled_from([0.1, 1 / 3, -7.0, 5e-324])),
       n_outputs=st.integers(1, 3))
def test_a_constant_target_is_predicted_exactly(data, value, n_outputs):
    """A target that never changes is predicted as itself, with no leftover network noise."""
    X, _ = data
    y = np.full((len(X), n_outputs), value).squeeze()
    predictions = SNNRegressor(**TINY).fit(X, y).predict(X * 3.0)
    assert (predictions == value).all()


def test_a_constant_target_column_stays_exact_beside_a_varying_one(data):
    """In a multi-output target only the constant column is exact; the other is learnt as usual."""
    X, _ = data
    y = np.column_stack([np.full(len(X), 0.1), X[:, 0] * 10.0])
    reg = SNNRegressor(**{**TINY, "max_iter": 60, "hidden_layer_sizes": (16,), "learning_rate_init": 0.02}).fit(X, y)
    predictions = reg.predict(X)
    assert (predictions[:, 0] == 0.1).all()
    assert np.corrcoef(predictions[:, 1], y[:, 1])[0, 1] > 0.8


def test_a_target_constant_in_the_first_partial_fit_is_learnt_once_it_varies(data):
    """partial_fit on a constant chunk, then on varying targets: the model learns them."""
    X, _ = data
    reg = SNNRegressor(**{**TINY, "hidden_layer_sizes": (16,), "learning_rate_init": 0.02})
    reg.partial_fit(X, np.full(len(X), 2.0))
    assert (reg.predict(X) == 2.0).all()
    for _ in range(40):
        reg.partial_fit(X, 2.0 + X[:, 0])
    assert np.corrcoef(reg.predict(X), X[:, 0])[0, 1] > 0.8


@pytest.mark.parametrize("scale", [1e-310, 5e-320])
@pytest.mark.parametrize("constant", [7.5, 1e308], ids=["constant", "huge-constant"])
def test_a_subnormal_range_feature_still_drives_predictions(data, scale, constant):
    """Values near 1e-310, beside a constant column, scale to [0, 1] like any others: predictions follow them."""
    X, _ = data
    tiny = np.column_stack([X[:, 0] * scale, np.full(len(X), constant)])
    target = X[:, 0]
    reg = SNNRegressor(**{**TINY, "max_iter": 60, "hidden_layer_sizes": (16,), "learning_rate_init": 0.02})
    predictions = reg.fit(tiny, target).predict(tiny)
    assert len(np.unique(predictions)) >= 5  # before, every prediction was the same
    assert np.corrcoef(predictions, target)[0, 1] > 0.8
