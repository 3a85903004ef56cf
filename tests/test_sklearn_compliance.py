"""scikit-learn compliance: the common estimator checks and the meta-estimators."""

import pickle
import re

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from pynmsnn import SNNClassifier, SNNRegressor, TableScaler

sklearn_version = tuple(int(part) for part in re.match(r"(\d+)\.(\d+)", sklearn.__version__).groups())

# Every common check passes; none is marked as an expected failure. The
# instances are small so that the whole set runs in seconds.
CHECKED = [
    SNNClassifier(hidden_layer_sizes=(32,), n_steps=8, max_iter=60, learning_rate_init=0.01, random_state=0),
    SNNRegressor(hidden_layer_sizes=(32,), n_steps=8, max_iter=100, learning_rate_init=0.01, random_state=0),
    # Inputs taken as they are, for pipelines that scale and encode X themselves.
    SNNClassifier(hidden_layer_sizes=(32,), n_steps=8, max_iter=60, learning_rate_init=0.01, preprocess=False,
                  random_state=0),
    TableScaler(),
]


def _scikit_learn_bugs(estimator):
    """Checks that fail on a supported scikit-learn release through a fault of that release's own.

    scikit-learn 1.6's ``check_positive_only_tag_during_fit`` turns X into int32 for
    estimators that accept categorical input, then subtracts a float mean from it in
    place, which numpy refuses; 1.7 fixed the check. Nothing is expected to fail on
    newer releases.
    """
    if sklearn_version < (1, 7) and get_tags(estimator).input_tags.categorical:
        return {"check_positive_only_tag_during_fit": "scikit-learn 1.6's check subtracts floats from int32 X"}
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=_scikit_learn_bugs)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_and_grid_search(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), SNNClassifier(n_steps=6, max_iter=60, learning_rate_init=0.01, random_state=0))
    search = GridSearchCV(pipe, {"snnclassifier__hidden_layer_sizes": [(8,), (32,)]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["snnclassifier__hidden_layer_sizes"] in [(8,), (32,)]
    assert search.best_score_ > 0.8
    assert search.cv_results_["mean_test_score"].shape == (2,)


def test_cross_val_score(iris):
    X, y = iris
    scores = cross_val_score(SNNClassifier(n_steps=6, max_iter=60, learning_rate_init=0.01, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


@pytest.mark.parametrize("make", ["classifier", "regressor"])
def test_clone_and_pickle_give_identical_predictions(make, iris):
    X, y = iris
    if make == "classifier":
        est = SNNClassifier(hidden_layer_sizes=(16,), n_steps=6, max_iter=20, random_state=3)
    else:
        X, y = make_regression(n_samples=150, n_features=4, random_state=0)
        est = SNNRegressor(hidden_layer_sizes=(16,), n_steps=6, max_iter=20, random_state=3)
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    refit = clone(est).fit(X, y)
    np.testing.assert_array_equal(refit.predict(X), est.predict(X))
    assert clone(est).get_params() == est.get_params()


def test_same_random_state_same_predictions_different_otherwise(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=10, encoder="noisy")
    a = SNNClassifier(random_state=1, **params).fit(X, y).predict_proba(X)
    b = SNNClassifier(random_state=1, **params).fit(X, y).predict_proba(X)
    c = SNNClassifier(random_state=2, **params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_parameter_errors_name_the_parameter():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="'decay' parameter of SNNClassifier must be"):
        SNNClassifier(decay=1.5).fit(X, y)
    with pytest.raises(ValueError, match="'encoder' parameter.*'latency'"):
        SNNClassifier(encoder="rate").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive integers"):
        SNNClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)
