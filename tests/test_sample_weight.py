"""sample_weight and class_weight: a weighted loss, zero weight as the row absent, and routing."""

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from pynmsnn import SNNClassifier, SNNRegressor, load, save

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=25, learning_rate_init=0.02, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)


def _case(kind, iris, regression):
    """An estimator, its data, and the output to compare."""
    if kind == "classifier":
        return SNNClassifier(**FAST), *iris, lambda est, X: est.predict_proba(X)
    return SNNRegressor(**FAST), *regression, lambda est, X: est.predict(X)


# ------------------------------------------------------------------ zero, integer and scaled weights
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_zero_weight_is_the_row_absent(kind, method, iris, regression):
    """Rows of zero weight, an outlier among them, change nothing: not the scaling, not the weights."""
    est, X, y, output = _case(kind, iris, regression)
    X = X.copy()
    X[5] = 1e6  # an outlier that would squash every other row's scaling if it were learned from
    weights = np.ones(len(X))
    weights[[5, 17, 40, 41]] = 0.0
    kept = weights > 0
    weighted = getattr(est, method)(X, y, sample_weight=weights)
    absent = getattr(type(est)(**FAST), method)(X[kept], y[kept])
    np.testing.assert_array_equal(output(weighted, X[kept]), output(absent, X[kept]))
    assert weighted.loss_curve_ == absent.loss_curve_


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_integer_weight_is_the_row_repeated(kind, solver, iris, regression):
    """Weight k trains exactly as k copies of the row when every row is in one batch (or with lbfgs)."""
    est, X, y, output = _case(kind, iris, regression)
    params = dict(batch_size=1000, solver=solver)
    counts = np.random.RandomState(0).randint(0, 4, size=len(X))
    weighted = est.set_params(**params).fit(X, y, sample_weight=counts)
    repeated = type(est)(**FAST, **params).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_array_equal(output(weighted, X), output(repeated, X))


def test_merged_duplicates_take_the_steps_of_the_rows_given(iris):
    """Identical rows train as one weighted row, but an epoch still takes as many steps as the rows given."""
    X, y = iris
    doubled = SNNClassifier(**FAST, batch_size=50).fit(np.vstack([X, X]), np.r_[y, y])  # 300 rows, 149 distinct
    steps = [float(state["step"]) for state in doubled._optimizer.state_dict()["state"].values()]
    assert set(steps) == {6.0 * doubled.n_iter_}  # 300 rows in batches of 50
    weighted = SNNClassifier(**FAST, batch_size=50).fit(X, y, sample_weight=np.full(len(X), 2.0))
    assert weighted._optimizer.state_dict()["state"][0]["step"] == 3 * weighted.n_iter_


def test_the_order_of_the_rows_does_not_matter(iris):
    """With shuffle=True a fit sees its rows in an order fixed by their content."""
    X, y = iris
    order = np.random.RandomState(1).permutation(len(X))
    a = SNNClassifier(**FAST).fit(X, y)
    b = SNNClassifier(**FAST).fit(X[order], y[order])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_uniform_and_power_of_two_scaled_weights_change_nothing(iris):
    """Weights matter only relative to each other: all-ones is no weights, and 4*w is w."""
    X, y = iris
    w = np.random.RandomState(2).uniform(0.2, 3.0, size=len(X))
    plain = SNNClassifier(**FAST).fit(X, y).predict_proba(X)
    ones = SNNClassifier(**FAST).fit(X, y, sample_weight=np.full(len(X), 7.0)).predict_proba(X)
    np.testing.assert_array_equal(ones, plain)
    once = SNNClassifier(**FAST).fit(X, y, sample_weight=w).predict_proba(X)
    scaled = SNNClassifier(**FAST).fit(X, y, sample_weight=4 * w).predict_proba(X)
    np.testing.assert_array_equal(once, scaled)
    assert not np.array_equal(once, plain)


def test_weights_pull_the_model_towards_the_heavy_rows():
    """On overlapping classes, weighing class 1 ten times makes the model call class 1 more often."""
    X, y = make_classification(n_samples=300, n_features=4, class_sep=0.3, flip_y=0.2, random_state=0)
    plain = SNNClassifier(**FAST).fit(X, y).predict(X).mean()
    heavy = SNNClassifier(**FAST).fit(X, y, sample_weight=np.where(y == 1, 10.0, 1.0)).predict(X).mean()
    assert heavy > plain + 0.1


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_early_stopping_splits_and_scores_with_the_weights(kind, iris, regression):
    """Zero-weight rows are dropped before the validation split, and the validation score is weighted."""
    est, X, y, output = _case(kind, iris, regression)
    est.set_params(early_stopping=True, validation_fraction=0.2, max_iter=15)
    weights = np.where(np.arange(len(X)) % 5 == 0, 0.0, 1.0)
    kept = weights > 0
    weighted = est.fit(X, y, sample_weight=weights)
    absent = type(est)(**{**est.get_params()}).fit(X[kept], y[kept])
    assert weighted.validation_scores_ == absent.validation_scores_
    assert weighted.best_loss_ is None  # the validation score picks the model, as in MLPClassifier
    # Weighted rows in the validation set: the score differs from an unweighted one.
    w = np.random.RandomState(0).uniform(0.1, 5.0, size=len(X))
    assert type(est)(**est.get_params()).fit(X, y, sample_weight=w).validation_scores_ != absent.validation_scores_


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(7), r"sample_weight has shape \(7,\), but X has 150 rows"),
        (np.ones((150, 2)), r"sample_weight has shape \(150, 2\)"),
        (np.r_[-1.0, np.ones(149)], r"finite and non-negative.*row\(s\) \[0\] hold \[-1.0\]"),
        (np.r_[np.ones(149), np.nan], r"finite and non-negative.*row\(s\) \[149\]"),
        (np.zeros(150), r"sample_weight is zero for every row"),
    ],
    ids=["short", "2-D", "negative", "nan", "all zero"],
)
def test_bad_weights_are_refused_with_the_fix(weights, message, iris):
    X, y = iris
    est = SNNClassifier(**FAST)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, sample_weight=weights)
    assert not hasattr(est, "module_")


def test_weights_that_leave_one_class_say_so(iris):
    X, y = iris
    with pytest.raises(ValueError, match="only one class: 0.*sample_weight"):
        SNNClassifier(**FAST).fit(X, y, sample_weight=(y == 0).astype(float))


# ------------------------------------------------------------------ class_weight
def test_class_weight_dict_equals_those_sample_weights(iris):
    """class_weight={label: w} is sample_weight=w on that label's rows (others weigh 1)."""
    X, y = iris
    labels = np.array(["a", "b", "c"])[y]
    by_class = SNNClassifier(class_weight={"a": 3.0, "c": 0.5}, **FAST).fit(X, labels)
    by_row = SNNClassifier(**FAST).fit(X, labels, sample_weight=np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(by_class.predict_proba(X), by_row.predict_proba(X))


def test_balanced_is_scikit_learns_balanced_weights_times_sample_weight():
    """'balanced' weighs classes by n / (k * count), counted with the sample weights, as compute_class_weight
    does from scikit-learn 1.7 (which takes sample_weight)."""
    X, y = make_classification(n_samples=200, n_features=4, weights=[0.8, 0.2], random_state=0)
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    balanced = SNNClassifier(class_weight="balanced", **FAST).fit(X, y, sample_weight=w)
    per_class = w.sum() / (2 * np.bincount(y, weights=w))  # compute_class_weight's formula, weighted
    explicit = SNNClassifier(**FAST).fit(X, y, sample_weight=w * per_class[y])
    np.testing.assert_allclose(balanced.predict_proba(X), explicit.predict_proba(X), rtol=1e-5)


def test_balanced_raises_minority_recall_on_imbalanced_data():
    """The reason to use it: on 9:1 data the rare class is found far more often."""
    X, y = make_classification(n_samples=600, n_features=6, n_informative=3, weights=[0.9, 0.1],
                               class_sep=0.8, random_state=0)
    plain = SNNClassifier(**FAST).fit(X, y)
    balanced = SNNClassifier(class_weight="balanced", **FAST).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.2


@pytest.mark.parametrize(
    "class_weight, message",
    [
        ({5: 2.0}, r"class_weight names labels \[5\] that are not among the classes \[0, 1, 2\]"),
        ({0: -1.0}, r"class_weight\[0\] is -1.0; a class's weight must be a finite non-negative number"),
        ("even", r"'class_weight' parameter of SNNClassifier must be"),
    ],
)
def test_bad_class_weights_are_refused_by_name(class_weight, message, iris):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        SNNClassifier(class_weight=class_weight, **FAST).fit(X, y)


def test_balanced_is_refused_by_partial_fit_with_the_fix(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not supported by partial_fit.*compute_class_weight"):
        SNNClassifier(class_weight="balanced", **FAST).partial_fit(X, y, classes=[0, 1, 2])
    # A dict works chunk after chunk.
    clf = SNNClassifier(class_weight={0: 2.0}, **FAST).partial_fit(X[::2], y[::2], classes=[0, 1, 2])
    assert clf.partial_fit(X[1::2], y[1::2]).n_iter_ == 2


def test_class_weight_with_labels_of_any_type_saves_and_loads(iris, tmp_path):
    """A dict keyed by integer labels goes through the safe file format unchanged."""
    X, y = iris
    clf = SNNClassifier(class_weight={0: 2.0, 2: 0.5}, **FAST).fit(X, y)
    save(clf, tmp_path / "weighted.pnm")
    loaded = load(tmp_path / "weighted.pnm")
    assert loaded.class_weight == {0: 2.0, 2: 0.5}
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------------------ metadata routing
@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_grid_search_routes_the_weights(iris, routing):
    """GridSearchCV hands sample_weight to fit when the estimator requests it; the refit model shows it."""
    X, y = iris
    w = np.random.RandomState(3).uniform(0.1, 3.0, size=len(X))
    est = SNNClassifier(**FAST).set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
    search = GridSearchCV(est, {"hidden_layer_sizes": [(8,), (16,)]}, cv=3).fit(X, y, sample_weight=w)
    best = SNNClassifier(**{**FAST, **search.best_params_}).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(search.predict_proba(X), best.predict_proba(X))
    unweighted = SNNClassifier(**{**FAST, **search.best_params_}).fit(X, y)
    assert not np.array_equal(search.predict_proba(X), unweighted.predict_proba(X))


def test_cross_validate_routes_the_weights_to_each_fold(regression, routing):
    """Each fold's model is the one fitted on the fold's rows with the fold's weights."""
    X, y = regression
    w = np.random.RandomState(4).uniform(0.1, 3.0, size=len(X))
    est = SNNRegressor(**FAST).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
    result = cross_validate(est, X, y, cv=KFold(3), params={"sample_weight": w},
                            return_estimator=True, return_indices=True)
    folds = zip(result["estimator"], result["indices"]["train"], result["indices"]["test"], result["test_score"])
    for model, train, test, score in folds:
        fold = SNNRegressor(**FAST).fit(X[train], y[train], sample_weight=w[train])
        np.testing.assert_array_equal(model.predict(X), fold.predict(X))
        assert score == fold.score(X[test], y[test], sample_weight=w[test])


def test_a_model_with_routing_requests_saves(iris, tmp_path, routing):
    """Requests are scikit-learn's settings, not fitted state: saving works, loading gives the model."""
    X, y = iris
    clf = SNNClassifier(**FAST).set_fit_request(sample_weight=True).fit(X, y)
    save(clf, tmp_path / "requested.pnm")
    np.testing.assert_array_equal(load(tmp_path / "requested.pnm").predict(X), clf.predict(X))
