"""pandas input: numeric and categorical columns with no preprocessing by the user."""

import numpy as np
import pandas as pd
import pytest

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
