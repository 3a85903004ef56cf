"""The public input step (pynmsnn.preprocessing.TableScaler) and estimators with preprocess=False."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils import get_tags

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor, TableScaler

SMALL = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=15, random_state=0)


@pytest.fixture(scope="module")
def table():
    """Iris with a categorical column (with a missing value), a boolean one and a column of numbers as text."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.copy()
    X["size"] = pd.Categorical(np.where(X["sepal length (cm)"] > 5.8, "big", "small"))
    X.loc[3, "size"] = np.nan
    X["wide"] = X["sepal width (cm)"] > 3.0
    X["petal text"] = X["petal width (cm)"].astype(str)
    return X, y


def test_transform_is_what_the_estimator_feeds_its_network(table):
    """TableScaler().fit(X).transform(X) equals the fitted estimator's inputs, names and preprocessor_."""
    X, y = table
    clf = SNNClassifier(**SMALL).fit(X, y)
    scaler = TableScaler().fit(X)
    np.testing.assert_array_equal(scaler.transform(X), clf.transform_inputs(X))
    assert scaler.get_feature_names_out().tolist() == clf.get_input_names()
    np.testing.assert_array_equal(clf.preprocessor_.transform(X), scaler.transform(X))
    assert "size=<missing>" in clf.get_input_names()


def test_pipeline_with_preprocess_false_predicts_exactly_as_the_builtin_step(table):
    """TableScaler in front of preprocess=False is the same model as the estimator alone: equal probabilities."""
    X, y = table
    alone = SNNClassifier(**SMALL).fit(X, y)
    pipe = make_pipeline(TableScaler(), SNNClassifier(preprocess=False, **SMALL)).fit(X, y)
    np.testing.assert_array_equal(pipe.predict_proba(X), alone.predict_proba(X))
    assert pipe[-1].preprocessor_ is None


def test_fitted_attributes_describe_the_columns(table):
    X, _ = table
    scaler = TableScaler().fit(X)
    assert scaler.n_features_in_ == X.shape[1]
    assert scaler.feature_names_in_.tolist() == list(X.columns)
    assert scaler.categorical_features_.tolist() == ["size", "wide"]
    assert "petal text" in scaler.numeric_features_
    assert [c.tolist() for c in scaler.categories_] == [["big", "small", None], [False, True]]
    numeric = X[scaler.numeric_features_.tolist()].astype(float)
    np.testing.assert_array_equal(scaler.data_min_, numeric.min().to_numpy())
    np.testing.assert_allclose(scaler.data_max_, numeric.max().to_numpy(), rtol=1e-15)


def test_set_output_pandas_names_the_columns_and_keeps_the_index(table):
    X, _ = table
    rows = X.iloc[[5, 2, 9]]
    out = TableScaler().set_output(transform="pandas").fit(X).transform(rows)
    assert list(out.columns) == TableScaler().fit(X).get_feature_names_out().tolist()
    assert out.index.tolist() == [5, 2, 9]
    assert out.filter(like="size=").sum(axis=1).tolist() == [1.0, 1.0, 1.0]


def test_values_outside_the_fitted_range_are_clipped():
    scaler = TableScaler().fit(np.array([[0.0], [10.0]]))
    np.testing.assert_array_equal(scaler.transform(np.array([[-5.0], [5.0], [25.0]])), [[0.0], [0.5], [1.0]])


def test_get_feature_names_out_checks_input_features(table):
    X, _ = table
    scaler = TableScaler().fit(X)
    assert scaler.get_feature_names_out(list(X.columns)).tolist() == scaler.get_feature_names_out().tolist()
    with pytest.raises(ValueError, match="not the column names of fit"):
        scaler.get_feature_names_out(["a"] * X.shape[1])
    unnamed = TableScaler().fit(X.select_dtypes("number").to_numpy())
    assert unnamed.get_feature_names_out().tolist() == ["x0", "x1", "x2", "x3"]
    assert unnamed.get_feature_names_out(["a", "b", "c", "d"]).tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="has 2 names.*fitted on 4 columns"):
        unnamed.get_feature_names_out(["a", "b"])


def test_bad_input_gets_the_estimators_clear_errors(table):
    X, _ = table
    scaler = TableScaler().fit(X)
    with pytest.raises(ValueError, match=r"X\[model.feature_names_in_\]"):
        scaler.transform(X[X.columns[::-1]])
    with pytest.raises(TypeError, match="categorical columns \\['size', 'wide'\\]; pass a DataFrame"):
        scaler.transform(X.drop(columns="size").assign(size=0).to_numpy(dtype=float))
    with pytest.raises(ValueError, match="NaN"):
        TableScaler().fit(np.array([[1.0], [np.nan]]))


def test_tags_say_categorical_input_is_accepted():
    assert get_tags(TableScaler()).input_tags.categorical
    assert get_tags(SNNClassifier()).input_tags.categorical
    assert not get_tags(SNNRegressor(preprocess=False)).input_tags.categorical


def test_preprocess_false_feeds_the_values_unchanged():
    X = np.array([[-3.0, 0.5], [2.0, 7.0], [0.25, -1.0], [1.0, 1.0]])
    reg = SNNRegressor(preprocess=False, **SMALL).fit(X, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(reg.transform_inputs(X * 10), (X * 10).astype(np.float32))
    assert reg.get_input_names() == ["x0", "x1"]


def test_preprocess_false_with_a_users_own_column_transformer(table):
    """The setup preprocess=False is for: the user's ColumnTransformer, the SNN without its own step."""
    X, y = table
    numeric = [c for c in X.columns if c.endswith("(cm)")]
    own = ColumnTransformer([("num", StandardScaler(), numeric)])
    pipe = make_pipeline(own, SNNClassifier(preprocess=False, **{**SMALL, "max_iter": 60, "learning_rate_init": 0.01})).fit(X, y)
    assert pipe.score(X, y) > 0.8


def test_preprocess_false_refuses_categorical_columns_and_takes_booleans_as_0_1(table):
    X, y = table
    with pytest.raises(ValueError, match=r"preprocess=False takes numbers only.*\['size'\].*OneHotEncoder"):
        SNNClassifier(preprocess=False, **SMALL).fit(X, y)
    numbers = X.drop(columns="size")
    clf = SNNClassifier(preprocess=False, **SMALL).fit(numbers, y)
    np.testing.assert_array_equal(clf.transform_inputs(numbers)[:, 4], X["wide"].to_numpy(dtype=np.float32))


def test_preprocess_false_refuses_probabilities_outside_0_1_for_poisson():
    X = np.array([[0.0, 0.2], [1.0, 0.4], [0.5, 2.5], [0.2, 0.1]])
    with pytest.raises(ValueError, match=r"encoder='poisson'.*column 'x1' holds values from 0.1 to 2.5.*MinMaxScaler"):
        SNNClassifier(preprocess=False, encoder="poisson", **SMALL).fit(X, [0, 1, 0, 1])
    fitted = make_pipeline(MinMaxScaler(clip=True), SNNClassifier(preprocess=False, encoder="poisson", **SMALL))
    assert fitted.fit(X, [0, 1, 0, 1]).predict(X).shape == (4,)


def test_continuing_with_another_preprocess_is_refused(table):
    X, y = table
    X = X.select_dtypes("number")
    clf = SNNClassifier(warm_start=True, **SMALL).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(preprocess=False)
    with pytest.raises(ValueError, match="preprocess changed from True to False"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("preprocess", [True, False])
def test_saved_and_loaded(tmp_path, table, preprocess):
    X, y = table
    X = X if preprocess else X.select_dtypes("number")
    clf = SNNClassifier(preprocess=preprocess, **SMALL).fit(X, y)
    pynmsnn.save(clf, tmp_path / "m.pnm")
    loaded = pynmsnn.load(tmp_path / "m.pnm")
    assert loaded.preprocess is preprocess
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_saved_pipeline_with_the_public_step(tmp_path, table):
    X, y = table
    pipe = make_pipeline(TableScaler(), SNNClassifier(preprocess=False, **SMALL)).fit(X, y)
    pynmsnn.save(pipe, tmp_path / "pipe.pnm")
    loaded = pynmsnn.load(tmp_path / "pipe.pnm")
    assert isinstance(loaded[0], TableScaler)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert loaded[0].get_feature_names_out().tolist() == pipe[0].get_feature_names_out().tolist()


def test_fitted_state_that_disagrees_with_preprocess_is_refused(table):
    X, y = table
    clf = SNNClassifier(**SMALL).fit(X.select_dtypes("number"), y)
    metadata, state_dict = clf.get_fitted_state()
    metadata["params"]["preprocess"] = False
    with pytest.raises(ValueError, match="input scaling is 'minmax', but the parameters say preprocess=False"):
        SNNClassifier.from_fitted_state(metadata, state_dict)


def test_transformer_fitted_state_is_checked(table):
    X, _ = table
    state = TableScaler().fit(X).get_fitted_state()
    rebuilt = TableScaler.from_fitted_state(state)
    np.testing.assert_array_equal(rebuilt.transform(X), TableScaler().fit(X).transform(X))
    with pytest.raises(ValueError, match="feature_names_in_ must be the 7 column names"):
        TableScaler.from_fitted_state({**state, "feature_names_in_": state["feature_names_in_"][::-1]})
    with pytest.raises(ValueError, match="scaling_ must be one of"):
        TableScaler.from_fitted_state({**state, "scaler": {**state["scaler"], "scaling_": "robust"}})
