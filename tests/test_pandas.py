"""pandas input: numeric and categorical columns with no preprocessing by the user."""

import numpy as np
import pandas as pd
import pytest
import torch

from pynmsnn import SNNClassifier, SNNRegressor

SMALL = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=60, learning_rate_init=0.02, random_state=0)


def make_frame(n=240, seed=0):
    """A table whose label depends on a category, a string, a bool and a number."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    city = rng.choice(["Paris", "Oslo"], n)
    member = rng.random(n) < 0.5
    size = rng.normal(50.0, 20.0, n)
    frame = pd.DataFrame({
        "size": size,
        "count": rng.integers(0, 5, n),  # int64: numeric
        "colour": pd.Series(colour, dtype="category"),
        "city": pd.Series(city, dtype="string"),
        "shape": pd.Series(rng.choice(["round", "square"], n), dtype=object),
        "member": member,
    })
    score = (colour == "red") * 2.0 + (city == "Oslo") + member - (size > 50)
    label = pd.Series(np.where(score > 1, "high", "low"), name="label")
    return frame, label, score


def test_mixed_dtype_dataframe_fits_and_predicts_without_preprocessing():
    frame, label, _ = make_frame()
    clf = SNNClassifier(**SMALL).fit(frame, label)  # a Series target
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    assert clf.n_features_in_ == 6
    # One-hot inside: 2 numeric + 3 colours + 2 cities + 2 shapes + 2 member values.
    assert clf.module_.hidden[0].in_features == 11
    assert clf.score(frame, label) > 0.9
    assert set(clf.predict(frame)) <= {"high", "low"}


def test_categorical_values_drive_the_prediction():
    """The model uses the one-hot columns: flipping colour to red raises P(high)."""
    frame, label, _ = make_frame()
    clf = SNNClassifier(**SMALL).fit(frame, label)
    blue = frame.assign(colour=pd.Series(["blue"] * len(frame), dtype="category"))
    red = frame.assign(colour=pd.Series(["red"] * len(frame), dtype="category"))
    high = list(clf.classes_).index("high")
    assert clf.predict_proba(red)[:, high].mean() > clf.predict_proba(blue)[:, high].mean() + 0.2


def test_unseen_category_gives_all_zeros_not_a_crash():
    frame, label, _ = make_frame()
    clf = SNNClassifier(**SMALL).fit(frame, label)
    new = frame.head(3).copy()
    new["colour"] = pd.Series(["purple", "red", "purple"], dtype="category")
    new["shape"] = ["hexagon", "round", None]
    proba = clf.predict_proba(new)
    assert proba.shape == (3, 2) and np.isfinite(proba).all()
    encoded = clf._scaler.transform(new)
    colour_columns = [i for i, name in enumerate(clf._scaler.output_names) if name.startswith("colour=")]
    assert encoded[0, colour_columns].sum() == 0 and encoded[1, colour_columns].sum() == 1


def test_missing_categories_are_a_category():
    frame, label, _ = make_frame()
    frame.loc[::7, "shape"] = None
    clf = SNNClassifier(**SMALL).fit(frame, label)
    assert "shape=<missing>" in clf._scaler.output_names
    assert np.isfinite(clf.predict_proba(frame)).all()


def test_regressor_on_a_dataframe_with_a_series_target():
    frame, _, score = make_frame(n=300)
    target = pd.Series(score * 10.0 + 3.0, name="target")
    reg = SNNRegressor(**{**SMALL, "max_iter": 120}).fit(frame, target)
    assert reg.predict(frame).shape == (300,)
    assert reg.score(frame, target) > 0.8


def test_numeric_columns_are_scaled_inside_and_clipped_at_predict():
    frame, label, _ = make_frame()
    clf = SNNClassifier(**SMALL).fit(frame, label)
    far = frame.head(2).copy()
    far["size"] = [1e6, -1e6]
    encoded = clf._scaler.transform(far)
    assert encoded[:, 0].tolist() == [1.0, 0.0]
    assert np.isfinite(clf.predict_proba(far)).all()


@pytest.mark.parametrize("as_frame", [True, False])
def test_numpy_and_pandas_give_the_same_model_for_numeric_data(as_frame):
    frame, label, _ = make_frame()
    numeric = frame[["size", "count"]]
    X = numeric if as_frame else numeric.to_numpy()
    a = SNNClassifier(**SMALL).fit(X, label)
    b = SNNClassifier(**SMALL).fit(numeric.to_numpy(), label.to_numpy())
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(numeric.to_numpy()))


# ------------------------------------------------------------------ column types that drift
def drifting_frame(n=240, seed=0):
    """A table with a category of integers, a bool, a text and a float column, and its labels."""
    rng = np.random.default_rng(seed)
    level = rng.integers(1, 4, n)
    member = rng.random(n) < 0.5
    frame = pd.DataFrame({
        "level": pd.Categorical(level),
        "member": member,
        "city": rng.choice(["Paris", "Oslo", "Rome"], n).astype(object),
        "size": rng.normal(size=n),
    })
    label = np.where((level == 3) | member, "high", "low")
    return frame, label


DRIFTS = {
    "integers as floats": lambda X: X.assign(level=X["level"].astype(float)),
    "integers as text": lambda X: X.assign(level=X["level"].astype(str)),
    "integers as nullable Int64": lambda X: X.assign(level=X["level"].astype("Int64")),
    "booleans as 0/1": lambda X: X.assign(member=X["member"].astype(int)),
    "booleans as text": lambda X: X.assign(member=X["member"].astype(str)),
    "booleans as nullable boolean": lambda X: X.assign(member=X["member"].astype("boolean")),
    "text as category": lambda X: X.assign(city=X["city"].astype("category")),
    "text as string": lambda X: X.assign(city=X["city"].astype("string")),
    "numbers as text": lambda X: X.assign(size=X["size"].map(repr)),
    "numbers as category": lambda X: X.assign(size=X["size"].astype("category")),
}


@pytest.mark.parametrize("drift", DRIFTS.values(), ids=DRIFTS)
def test_a_column_that_changes_type_keeps_its_predictions(drift):
    """Integers as floats, booleans as 0/1, numbers as text...: the same predictions, bit for bit."""
    X, y = drifting_frame()
    clf = SNNClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(drift(X)), clf.predict_proba(X))


def test_a_column_whose_meaning_is_lost_is_refused_by_name():
    """Label-encoded text, or booleans as 1/2: a ValueError naming the column and both types."""
    X, y = drifting_frame()
    clf = SNNClassifier(**SMALL).fit(X, y)
    codes = X.assign(city=X["city"].map({"Paris": 0, "Oslo": 1, "Rome": 2}))
    with pytest.raises(ValueError, match=r"Column 'city' held text in fit .*dtype (object|str)\).* holds \d \(int; dtype int64\)"):
        clf.predict(codes)
    shifted = X.assign(member=X["member"].astype(int) + 1)
    with pytest.raises(ValueError, match=r"Column 'member' held booleans in fit .* holds 2 \(int; dtype int64\)"):
        clf.predict(shifted)


# ------------------------------------------------------------------ wide categorical columns
def wide_frame(n_categories, n=600, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_categories, n)
    X = pd.DataFrame({"size": rng.normal(size=n), "shop": pd.Categorical([f"s{c:04d}" for c in codes])})
    return X, np.where((codes % 3 == 0) ^ (X["size"] > 0), "a", "b")


@pytest.mark.parametrize("encoder", ["current", "noisy", "poisson", "latency"])
@pytest.mark.parametrize("event_driven", [True, False], ids=["event-driven", "dense"])
def test_a_wide_categorical_column_predicts_as_its_dense_one_hot(encoder, event_driven):
    """Folding a 250-category column into the first layer gives the dense one-hot's outputs."""
    from pynmsnn import _kernels
    from pynmsnn._engine import forced_engine

    if event_driven and (encoder == "latency" or not _kernels.HAVE_EVENT_KERNEL):
        pytest.skip("runs on the dense path")
    with forced_engine(inference="event" if event_driven else "dense"):
        _folds_as_the_dense_one_hot(encoder)


def _folds_as_the_dense_one_hot(encoder):
    from pynmsnn._folding import fold_one_hot

    X, y = wide_frame(250)
    clf = SNNClassifier(**{**SMALL, "max_iter": 5, "encoder": encoder}).fit(X, y)
    numeric, codes = clf._scaler.encode(X)
    module, rows = fold_one_hot(clf.module_, numeric, codes, clf._scaler.category_counts)
    folds = encoder != "latency"  # its input is not a constant current
    n_categories = clf._scaler.category_counts[0]
    assert n_categories > 200 and clf.module_.hidden[0].in_features == 1 + n_categories
    assert rows.shape == (len(X), 1 + (16 if folds else n_categories))
    assert (module is not clf.module_) == folds
    dense = clf._forward_scaled(clf._scaler.transform(X))
    np.testing.assert_allclose(clf._forward(X), dense, rtol=1e-5, atol=1e-6)
    assert (clf._forward(X) == dense).mean() > 0.99
    # A row's output does not depend on the rows predicted with it.
    one_at_a_time = np.concatenate([clf.predict_proba(X.iloc[[i]]) for i in range(0, len(X), 97)])
    np.testing.assert_array_equal(one_at_a_time, clf.predict_proba(X)[::97])


def test_a_wide_categorical_column_with_unseen_values_predicts_as_all_zeros():
    """Unseen and missing categories fold to zero rows, as their one-hot is all zeros."""
    X, y = wide_frame(250)
    clf = SNNClassifier(**{**SMALL, "max_iter": 5}).fit(X, y)
    new = X.head(6).assign(shop=pd.Categorical(["zzz", None, "s0001", "yyy", "s0002", None]))
    dense = clf._forward_scaled(clf._scaler.transform(new))
    np.testing.assert_allclose(clf._forward(new), dense, rtol=1e-5, atol=1e-6)


def test_folding_leaves_the_fitted_network_as_it_was():
    """The folded network is a copy: the fitted one keeps its layers, and both share the same weights."""
    from pynmsnn._folding import fold_one_hot

    X, y = wide_frame(250)
    clf = SNNClassifier(**{**SMALL, "max_iter": 5}).fit(X, y)
    before = {name: tensor.clone() for name, tensor in clf.module_.state_dict().items()}
    first = clf.module_.hidden[0]
    folded, _ = fold_one_hot(clf.module_, *clf._scaler.encode(X), clf._scaler.category_counts)
    assert clf.module_.hidden[0] is first and folded.hidden[0] is not first
    assert folded.output.weight is clf.module_.output.weight and folded.hidden[0].bias is first.bias
    after = clf.module_.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
