"""save/load of Pipelines and fitted searches: identical predictions, and a format that cannot run code."""

import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from pynmsnn import SNNClassifier, SNNRegressor, load, save
from pynmsnn.persistence import FORMAT_VERSION, _checksum, read_metadata

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=20, learning_rate_init=0.01, random_state=0)


@pytest.fixture(scope="module")
def table():
    """iris as a DataFrame with a text column."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.assign(colour=np.where(X["sepal length (cm)"] > 5.8, "red", "blue"))
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


@pytest.fixture(scope="module")
def pipeline(table):
    X, y = table
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder=StandardScaler())
    return _quiet(lambda: make_pipeline(encode, SNNClassifier(**FAST)).fit(X, y))


@pytest.fixture(scope="module")
def search(pipeline, table):
    X, y = table
    grid = {"snnclassifier__hidden_layer_sizes": [(8,), (16,)], "snnclassifier__decay": [0.8, 0.9]}
    search = GridSearchCV(clone(pipeline), grid, cv=KFold(3, shuffle=True, random_state=0), scoring="accuracy")
    return _quiet(lambda: search.fit(X, y))


def _round_trip(obj, tmp_path, name="model.pnm"):
    save(obj, tmp_path / name)
    return load(tmp_path / name)


def test_a_pipeline_round_trip_is_identical(pipeline, table, tmp_path):
    """Column transformer, one-hot encoder, scaler and network: the same class, parameters and outputs."""
    X, _ = table
    loaded = _round_trip(pipeline, tmp_path)
    assert isinstance(loaded, Pipeline) and [name for name, _ in loaded.steps] == [n for n, _ in pipeline.steps]
    assert repr(loaded) == repr(pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_array_equal(loaded.classes_, pipeline.classes_)
    # An unseen category still gives zeros, as in the saved encoder.
    np.testing.assert_array_equal(loaded.predict(X.assign(colour="green")), pipeline.predict(X.assign(colour="green")))


def test_a_fitted_search_round_trip_keeps_its_results_and_scorer(search, table, tmp_path):
    """The best model, best_params_, cv_results_ (masked parameter columns included) and score."""
    X, y = table
    loaded = _round_trip(search, tmp_path)
    assert type(loaded) is GridSearchCV and loaded.best_params_ == search.best_params_
    assert loaded.best_score_ == search.best_score_ and loaded.best_index_ == search.best_index_
    assert loaded.cv_results_.keys() == search.cv_results_.keys()
    for key, value in search.cv_results_.items():
        if isinstance(value, np.ma.MaskedArray):
            assert isinstance(loaded.cv_results_[key], np.ma.MaskedArray)
            assert list(loaded.cv_results_[key]) == list(value)
        elif key == "params":
            assert loaded.cv_results_[key] == value
        else:
            np.testing.assert_array_equal(loaded.cv_results_[key], value)
    np.testing.assert_array_equal(loaded.predict_proba(X), search.predict_proba(X))
    assert loaded.score(X, y) == search.score(X, y)
    assert loaded.cv.random_state == 0  # the splitter, rebuilt


def test_a_randomized_search_of_a_regressor(tmp_path):
    X, y = make_regression(n_samples=120, n_features=4, random_state=0)
    search = RandomizedSearchCV(make_pipeline(StandardScaler(), SNNRegressor(**FAST)),
                                {"snnregressor__alpha": [1e-4, 1e-3, 1e-2]}, n_iter=2, cv=2, random_state=0)
    _quiet(lambda: search.fit(X, y))
    loaded = _round_trip(search, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert loaded.score(X, y) == search.score(X, y)


def test_the_file_is_tensors_and_json(search, tmp_path):
    """Format 2: every network's tensors under a prefix of its own, the rest one JSON string."""
    save(search, tmp_path / "search.pnm")
    payload = torch.load(tmp_path / "search.pnm", weights_only=True)
    assert set(payload) == {"format", "metadata", "state_dict", "checksum"}
    assert all(isinstance(t, torch.Tensor) for t in payload["state_dict"].values())
    assert {name.split("/")[0] for name in payload["state_dict"]} == {"0"}  # one fitted network: the best
    metadata = read_metadata(tmp_path / "search.pnm")
    assert metadata["format_version"] == FORMAT_VERSION == 2
    assert metadata["sklearn_version"] == sklearn.__version__
    assert metadata["object"]["class"] == "sklearn.model_selection.GridSearchCV"


def test_routing_requests_do_not_block_saving(table, tmp_path):
    X, y = table
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
            SNNClassifier(**FAST).set_fit_request(sample_weight=True),
        )
        _quiet(lambda: pipe.fit(X, y, sample_weight=np.ones(len(y))))
        np.testing.assert_array_equal(_round_trip(pipe, tmp_path).predict(X), pipe.predict(X))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: make_pipeline(FunctionTransformer(np.log1p), SNNClassifier(**FAST)),
         r"the Pipeline\.steps\.func: a value of type ufunc has no safe file format"),
        (lambda: make_pipeline(StandardScaler(), SNNClassifier(**FAST), memory="cache"),
         r"memory='cache' reads cached pickles; set memory=None"),
        (lambda: GridSearchCV(SNNClassifier(**FAST), {"decay": [0.9]}, cv=2, scoring=lambda e, X, y: 1.0),
         r"search's scoring must be None or the name of a scorer"),
    ],
    ids=["function", "memory", "callable scoring"],
)
def test_objects_that_would_carry_code_are_refused_at_save(make, message, table, tmp_path):
    X, y = table
    obj = _quiet(lambda: make().fit(X.drop(columns="colour"), y))
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "refused.pnm")
    assert not (tmp_path / "refused.pnm").exists()


def test_an_unfitted_pipeline_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        save(make_pipeline(StandardScaler(), SNNClassifier()), tmp_path / "unfitted.pnm")


# ------------------------------------------------------------------ crafted files
def _craft(source, target, change):
    """Rewrite the JSON of a saved file, with a matching checksum: what a forger would do."""
    payload = torch.load(source, weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(metadata)
    payload["metadata"] = json.dumps(metadata)
    payload["checksum"] = _checksum(payload["metadata"], payload["state_dict"])
    torch.save(payload, target)


def _first_step(metadata):
    return metadata["object"]["state"]["steps"][0]["items"][1]


@pytest.mark.parametrize(
    "change",
    [
        lambda m: _first_step(m).update({"class": "os.system"}),
        lambda m: _first_step(m).update({"class": "builtins.eval"}),
        lambda m: _first_step(m).update({"class": "subprocess.Popen"}),
        lambda m: _first_step(m).update({"class": "sklearn.utils.Bunch"}),  # a scikit-learn class, not an estimator
        lambda m: _first_step(m).update({"class": "sklearn.externals.array_api_compat"}),
        lambda m: _first_step(m).update({"class": "sklearn.pipeline.make_pipeline"}),  # a function
        lambda m: _first_step(m)["state"].update({"transform": None}),  # an attribute hiding a method
        lambda m: _first_step(m)["state"].update({"__reduce__": None}),
        lambda m: _first_step(m)["state"].update({"func": {"__type__": "function", "name": "os.system"}}),
        lambda m: m["object"].update({"__type__": "pickle", "data": "cos\nsystem\n"}),
    ],
    ids=["os.system", "eval", "Popen", "non-estimator", "module", "function", "method", "dunder",
         "function tag", "pickle tag"],
)
def test_a_forged_file_names_only_trusted_classes_and_data(change, pipeline, tmp_path):
    """A file edited to name any other class, a function or a method is refused before anything is built."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(pipeline, good)
    _craft(good, bad, change)
    imported = set(sys.modules)
    refused = r"bad\.pnm.*damaged or invalid.*(unknown class|unexpected attribute name|unknown value tag)"
    with pytest.raises(ValueError, match=refused):
        load(bad)
    assert not {"subprocess", "os.system"} & (set(sys.modules) - imported)


def test_a_pickle_inside_a_pipeline_file_never_runs(pipeline, tmp_path):
    """A pickled object that runs a command, placed in a pipeline file, is refused; the command never runs."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(pipeline, good)
    payload = torch.load(good, weights_only=True)
    payload["state_dict"]["0/extra"] = Exploit()
    torch.save(payload, bad)
    with pytest.raises(ValueError, match=r"bad\.pnm.*refuses to build"):
        load(bad)
    assert not marker.exists()


def test_weights_of_no_estimator_are_refused(pipeline, tmp_path):
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(pipeline, good)
    payload = torch.load(good, weights_only=True)
    payload["state_dict"]["7/hidden.0.weight"] = torch.zeros(2)
    payload["checksum"] = _checksum(payload["metadata"], payload["state_dict"])
    torch.save(payload, bad)
    with pytest.raises(ValueError, match=r"bad\.pnm.*weights \['7/hidden\.0\.weight'\] of no estimator"):
        load(bad)


def test_a_forged_network_is_checked_as_in_a_lone_estimator(pipeline, tmp_path):
    """The estimator in a pipeline goes through the same checks: here a decay out of range."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(pipeline, good)

    def change(metadata):
        network = metadata["object"]["state"]["steps"][1]["items"][1]
        network["params"]["items"]["decay"] = 1.5
        network["network"]["decay"] = 1.5

    _craft(good, bad, change)
    with pytest.raises(ValueError, match=r"bad\.pnm.*'decay' parameter"):
        load(bad)


def test_pandas_output_setting_survives(table, tmp_path):
    """set_output(transform='pandas') is part of a transformer's state and is kept."""
    X, y = table
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = _quiet(lambda: make_pipeline(scaler, SNNClassifier(**FAST)).fit(X.drop(columns="colour"), y))
    loaded = _round_trip(pipe, tmp_path)
    assert isinstance(loaded[0].transform(X.drop(columns="colour")), pd.DataFrame)
    np.testing.assert_array_equal(loaded.predict(X.drop(columns="colour")), pipe.predict(X.drop(columns="colour")))
