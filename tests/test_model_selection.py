"""The batched search: each member trains as its own fit would, and the search reads as GridSearchCV's.

Torch runs on one thread here (conftest.py). On one thread a member of a
stack and a separate ``fit`` of the same candidate on the same rows compute
the same products in the same order, so weights, loss curves, predictions
and scores are compared for equality, not closeness.
"""

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import loguniform, uniform
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import make_scorer, mean_absolute_error
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import pynmsnn._stacked as stacked
from pynmsnn import SNNClassifier, SNNRegressor, model_selection
from pynmsnn._stacked import Member, member_bytes, split_by_budget, train_members
from pynmsnn.model_selection import SNNGridSearchCV, SNNRandomizedSearchCV

TINY = dict(hidden_layer_sizes=(12,), n_steps=5, max_iter=4, batch_size=64, precision="float32", random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:360], y[:360]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


def assert_same_results(ours, theirs):
    """Every cv_results_ entry of GridSearchCV, times aside, is ours; the best candidate too."""
    extra = set(ours.cv_results_) - set(theirs.cv_results_)
    assert extra == {"batched", "not_batched_because"}
    for key, expected in theirs.cv_results_.items():
        if "time" in key:
            continue
        got = ours.cv_results_[key]
        if key.startswith("param"):
            assert list(got) == list(expected), key
        else:
            np.testing.assert_array_equal(got, expected, err_msg=key)
    if hasattr(theirs, "best_index_"):
        assert ours.best_index_ == theirs.best_index_ and ours.best_params_ == theirs.best_params_
    else:
        assert not hasattr(ours, "best_index_")


# ------------------------------------------------------------ one member
def _members(base, candidates, folds, X, y):
    members, separate = [], []
    for candidate in candidates:
        for train in folds:
            estimator = clone(base).set_params(**candidate)
            inputs, targets = estimator.start_fit(X[train], y[train])
            members.append(Member(estimator, inputs, targets, estimator.training_plan(len(inputs))))
            separate.append(clone(base).set_params(**candidate).fit(X[train], y[train]))
    return members, separate


NEURONS = [dict(decay=0.9, threshold=0.5),
           dict(decay=0.6, threshold=0.3, refractory_penalty=0.1, learning_rate_init=5e-3, alpha=0.01)]
SETTINGS = {
    "membrane": {},
    "spikes-readout": dict(readout="spikes"),
    "poisson": dict(encoder="poisson"),
    "noisy-two-layers": dict(encoder="noisy", hidden_layer_sizes=(10, 8)),
    "latency-zero-reset": dict(encoder="latency", reset="zero", surrogate="atan"),
    "spike-penalty": dict(spike_penalty=0.1, init_firing_rate=0.2),
    "no-shuffle-detached": dict(shuffle=False, detach_reset=True),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_a_member_trains_exactly_as_its_own_fit(setting, digits):
    """Weights, loss curve and predictions of each member equal a separate fit's, bit for bit.

    Two candidates with other neurons, learning rates and alpha, on three
    folds of which one has a few rows fewer (its last minibatch is shorter).
    """
    X, y = digits
    folds = [np.arange(len(X)) % 3 != k for k in range(3)]
    folds[2][:5] = False
    candidates = [dict(neuron, **SETTINGS[setting]) for neuron in NEURONS]
    members, separate = _members(SNNClassifier(**TINY), candidates, folds, X, y)
    for member, result, fit in zip(members, train_members(members), separate):
        expected = fit.module_.state_dict()
        for name, tensor in result.state_dict.items():
            torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)
        assert result.loss_curve == fit.loss_curve_
        member.estimator.finish_fit(member.inputs, result.state_dict, result.loss_curve, result.stopped)
        np.testing.assert_array_equal(member.estimator.predict_proba(X), fit.predict_proba(X))
        assert member.estimator.n_iter_ == fit.n_iter_ and member.estimator.firing_rates_ == fit.firing_rates_
        assert all(0.01 < rate < 0.9 for rate in fit.firing_rates_.values()), fit.firing_rates_  # spikes and resets


@pytest.mark.parametrize("setting", [dict(class_weight="balanced"), dict(class_weight={0: 3.0}, shuffle=False)])
def test_a_member_with_weighted_and_merged_rows_trains_exactly_as_its_own_fit(setting, digits):
    """class_weight and repeated rows (merged into one row of summed weight) weigh the members' losses as in fit."""
    X, y = digits
    X, y = np.r_[X, X[:40]], np.r_[y, y[:40]]  # 40 rows given twice
    folds = [np.arange(len(X)) % 2 != k for k in range(2)]
    members, separate = _members(SNNClassifier(**TINY, **setting), NEURONS, folds, X, y)
    assert all(member.plan.row_weights is not None for member in members)
    for member, result, fit in zip(members, train_members(members), separate):
        assert result.loss_curve == fit.loss_curve_
        member.estimator.finish_fit(member.inputs, result.state_dict, result.loss_curve, result.stopped)
        np.testing.assert_array_equal(member.estimator.predict_proba(X), fit.predict_proba(X))


@pytest.mark.parametrize("n_targets", [1, 2])
def test_a_regressor_member_trains_exactly_as_its_own_fit(n_targets, diabetes):
    X, y = diabetes
    y = y if n_targets == 1 else np.c_[y, np.sqrt(y)]
    folds = [np.arange(len(X)) % 2 != k for k in range(2)]
    members, separate = _members(SNNRegressor(**TINY), NEURONS, folds, X, y)
    for member, result, fit in zip(members, train_members(members), separate):
        assert result.loss_curve == fit.loss_curve_
        member.estimator.finish_fit(member.inputs, result.state_dict, result.loss_curve, result.stopped)
        np.testing.assert_array_equal(member.estimator.predict(X), fit.predict(X))


def test_each_member_stops_by_its_own_rule_and_then_leaves_the_stack(digits, monkeypatch):
    """Members stop after their own fit's number of epochs; the stack shrinks as they do."""
    X, y = digits
    folds = [np.arange(len(X)) % 2 != k for k in range(2)]
    candidates = [dict(max_iter=30, tol=0.05, n_iter_no_change=1), dict(max_iter=20, tol=0.0, n_iter_no_change=40),
                  dict(max_iter=7)]
    members, separate = _members(SNNClassifier(**TINY), candidates, folds, X, y)
    sizes = []
    scan = stacked.lif_scan_members

    def counting_scan(current, *args, **kwargs):
        sizes.append(current.shape[0])
        return scan(current, *args, **kwargs)

    monkeypatch.setattr(stacked, "lif_scan_members", counting_scan)
    results = train_members(members)
    epochs = [len(result.loss_curve) for result in results]
    assert epochs == [fit.n_iter_ for fit in separate]
    assert [r.stopped for r in results] == ["plateau"] * 2 + ["max_iter"] * 4
    assert len(set(epochs)) > 2  # members ended at different epochs
    assert sizes[0] == len(members) and sizes[-1] < len(members)
    assert all(a >= b for a, b in zip(sizes, sizes[1:]))  # never grows back
    assert sizes.count(len(members)) < len(sizes) / 3  # most of the work ran on a smaller stack


def test_a_member_that_diverges_is_rolled_back_or_fails_as_its_fit_does(digits):
    """A first-epoch divergence is finish_fit's ValueError; later ones keep the last good epoch."""
    X, y = digits
    members = []
    for candidate in [dict(learning_rate_init=1e30), {}]:
        estimator = SNNClassifier(**TINY).set_params(**candidate)
        inputs, targets = estimator.start_fit(X, y)
        members.append(Member(estimator, inputs, targets, estimator.training_plan(len(inputs))))
    diverged, healthy = train_members(members)
    assert diverged.stopped == "diverged" and diverged.loss_curve == []
    assert healthy.stopped == "max_iter" and len(healthy.loss_curve) == TINY["max_iter"]
    with pytest.raises(ValueError, match="diverged in its first epoch"):
        members[0].estimator.finish_fit(members[0].inputs, diverged.state_dict, diverged.loss_curve, "diverged",
                                        diverged.diverged_loss)
    assert not hasattr(members[0].estimator, "module_")  # left unfitted, as fit leaves it


def test_memory_budget_splits_a_group_into_stacks(digits, monkeypatch):
    """A budget of two members' worth trains 8 members in 4 stacks, with GridSearchCV's results."""
    X, y = digits
    stacks = []
    train = model_selection.train_members

    def recording_train(members):
        stacks.append(len(members))
        return train(members)

    monkeypatch.setattr(model_selection, "train_members", recording_train)
    estimator = SNNClassifier(**TINY)
    grid = {"decay": [0.8, 0.95], "learning_rate_init": [3e-3, 1e-2]}
    each = member_bytes(64, TINY["n_steps"], [12, 10]) / 2**20
    ours = SNNGridSearchCV(estimator, grid, cv=2, memory_budget=2.5 * each).fit(X, y)
    assert stacks == [2, 2, 2, 2]
    assert_same_results(ours, GridSearchCV(estimator, grid, cv=2).fit(X, y))
    assert split_by_budget(8, 100, 250) == [2, 2, 2, 2] and split_by_budget(3, 100, 1000) == [3]


# ------------------------------------------------------------ the search
@pytest.mark.parametrize("scoring, refit", [
    (None, True),
    (["accuracy", "neg_log_loss"], "neg_log_loss"),
    ({"acc": "accuracy", "balanced": "balanced_accuracy"}, False),
])
def test_grid_search_results_equal_gridsearchcv(scoring, refit, digits):
    """cv_results_, best_index_, best_params_ and the refit model are GridSearchCV's; every candidate batched."""
    X, y = digits
    estimator = SNNClassifier(**TINY)
    grid = [{"decay": [0.8, 0.95], "threshold": [0.6, 1.0]}, {"learning_rate_init": [1e-2], "alpha": [0.1]}]
    kwargs = dict(cv=3, scoring=scoring, refit=refit, return_train_score=True)
    ours = SNNGridSearchCV(estimator, grid, **kwargs).fit(X, y)
    theirs = GridSearchCV(estimator, grid, **kwargs).fit(X, y)
    assert_same_results(ours, theirs)
    assert ours.cv_results_["batched"].all() and set(ours.cv_results_["not_batched_because"]) == {""}
    assert type(ours.scorer_) is type(theirs.scorer_) and ours.multimetric_ == theirs.multimetric_
    if isinstance(theirs.scorer_, dict):
        assert list(ours.scorer_) == list(theirs.scorer_)
    if refit:
        np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
        assert ours.best_score_ == theirs.best_score_ and type(ours.best_estimator_) is SNNClassifier
    else:
        assert not hasattr(ours, "best_estimator_")


def test_randomized_search_samples_and_scores_as_randomizedsearchcv(diabetes):
    X, y = diabetes
    estimator = SNNRegressor(**TINY)
    distributions = {"decay": uniform(0.6, 0.39), "learning_rate_init": loguniform(1e-3, 3e-2), "n_steps": [4, 6]}
    scorer = make_scorer(mean_absolute_error, greater_is_better=False)
    kwargs = dict(n_iter=5, cv=KFold(3, shuffle=True, random_state=1), scoring=scorer, random_state=0)
    ours = SNNRandomizedSearchCV(estimator, distributions, **kwargs).fit(X, y)
    assert_same_results(ours, RandomizedSearchCV(estimator, distributions, **kwargs).fit(X, y))


def test_pipeline_and_pandas_input_batch_through_step_names():
    """A Pipeline ending in the SNN is searched by step__param names, its scaler fitted once per fold."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(size=240), "colour": pd.Series(rng.choice(["r", "g"], 240),
                                                                           dtype="category")})
    label = pd.Series(np.where((frame["size"] > 0) ^ (frame["colour"] == "r"), "yes", "no"))
    scale = StandardScaler().set_output(transform="pandas")
    pipeline = Pipeline([("scale", ColumnsScaler(scale)), ("snn", SNNClassifier(**TINY))])
    grid = {"snn__decay": [0.8, 0.95], "snn__learning_rate_init": [3e-3, 3e-2]}
    ours = SNNGridSearchCV(pipeline, grid, cv=3).fit(frame, label)
    assert ours.cv_results_["batched"].all()
    assert_same_results(ours, GridSearchCV(pipeline, grid, cv=3).fit(frame, label))
    assert list(ours.best_estimator_.named_steps) == ["scale", "snn"]


class ColumnsScaler(StandardScaler):
    """Scales the numeric columns of a DataFrame and passes the others through (for the pipeline test)."""

    def __init__(self, scaler=None):
        self.scaler = scaler

    def fit(self, X, y=None):
        self.columns_ = X.select_dtypes("number").columns
        self.scaler_ = clone(self.scaler).fit(X[self.columns_])
        return self

    def transform(self, X):
        return X.assign(**self.scaler_.transform(X[self.columns_]))


def test_what_cannot_be_batched_is_fitted_one_by_one_and_says_why(digits):
    X, y = digits
    pipeline = Pipeline([("scale", StandardScaler()), ("snn", SNNClassifier(**TINY))])
    grid = [{"snn__decay": [0.8]}, {"snn__early_stopping": [True]}, {"scale__with_mean": [False]},
            {"snn__hidden_layer_sizes": [(8, 8)], "snn__precision": ["bfloat16"]}]
    ours = SNNGridSearchCV(pipeline, grid, cv=2).fit(X, y)
    assert list(ours.cv_results_["batched"]) == [True, False, False, False]
    reasons = list(ours.cv_results_["not_batched_because"])
    assert reasons[0] == "" and "early_stopping" in reasons[1] and "scale" in reasons[2] and "bfloat16" in reasons[3]
    assert_same_results(ours, GridSearchCV(pipeline, grid, cv=2).fit(X, y))


def test_other_solvers_and_sample_weight_fall_back_to_separate_fits(digits):
    """sgd and lbfgs (and so their learning-rate schedules) and fit parameters are fitted one by one."""
    X, y = digits
    grid = [{"learning_rate_init": [1e-3]}, {"solver": ["sgd"], "learning_rate": ["adaptive"]},
            {"solver": ["lbfgs"], "max_iter": [3]}]
    ours = SNNGridSearchCV(SNNClassifier(**TINY), grid, cv=2).fit(X, y)
    assert list(ours.cv_results_["batched"]) == [True, False, False]
    assert all("solver=" in reason for reason in ours.cv_results_["not_batched_because"][1:])
    assert_same_results(ours, GridSearchCV(SNNClassifier(**TINY), grid, cv=2).fit(X, y))
    weights = np.where(y == 0, 2.0, 1.0)
    weighted = SNNGridSearchCV(SNNClassifier(**TINY), grid[:1], cv=2).fit(X, y, sample_weight=weights)
    assert "sample_weight" in weighted.cv_results_["not_batched_because"][0]
    assert_same_results(weighted, GridSearchCV(SNNClassifier(**TINY), grid[:1], cv=2).fit(X, y, sample_weight=weights))


def test_start_fit_refuses_what_only_fit_trains(digits):
    X, y = digits
    with pytest.raises(ValueError, match="solver='sgd'"):
        SNNClassifier(**TINY, solver="sgd").start_fit(X, y)


def test_failed_fits_score_error_score_as_in_gridsearchcv(digits):
    """A candidate that diverges in its first epoch scores error_score with a warning, or raises;
    an unknown parameter name raises, as in GridSearchCV."""
    X, y = digits
    estimator = SNNClassifier(**TINY)
    grid = {"learning_rate_init": [1e-2, 1e30]}
    with pytest.warns(FitFailedWarning, match="diverged in its first epoch"):
        ours = SNNGridSearchCV(estimator, grid, cv=2, error_score=-1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = GridSearchCV(estimator, grid, cv=2, error_score=-1.0).fit(X, y)
    assert_same_results(ours, theirs)
    assert list(ours.cv_results_["mean_test_score"][1:]) == [-1.0]
    with pytest.raises(ValueError, match="diverged in its first epoch"):
        SNNGridSearchCV(estimator, grid, cv=2, error_score="raise").fit(X, y)
    unknown = [{"decay": [0.9]}, {"no_such_parameter": [1]}]  # set_params raises, in both searches
    for search in (SNNGridSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="Invalid parameter 'no_such_parameter'"):
            search(estimator, unknown, cv=2, error_score=-1.0).fit(X, y)


def test_parallel_stacks_on_two_processes_give_the_same_results(digits):
    """n_jobs=2 splits the group into two stacks, one per process (one torch thread each), same numbers."""
    X, y = digits
    estimator = SNNClassifier(**TINY)
    grid = {"decay": [0.8, 0.95], "threshold": [0.6, 1.0]}
    parallel = SNNGridSearchCV(estimator, grid, cv=2, n_jobs=2).fit(X, y)
    assert_same_results(parallel, GridSearchCV(estimator, grid, cv=2).fit(X, y))


def test_search_parameters_are_checked():
    with pytest.raises(ValueError, match="memory_budget"):
        SNNGridSearchCV(SNNClassifier(), {"decay": [0.9]}, memory_budget=0).fit([[0.0], [1.0]], [0, 1])


def test_docstring_examples_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in (model_selection, stacked):
            assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0, module.__name__
