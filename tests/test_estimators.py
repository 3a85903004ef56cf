"""Estimator behaviour: labels of any type, targets, fitted attributes, partial_fit, warm_start."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification, make_regression

from pynmsnn import SNNClassifier, SNNRegressor

SMALL = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=40, learning_rate_init=0.02, random_state=0)


@pytest.fixture(scope="module")
def binary():
    return make_classification(n_samples=120, n_features=5, n_informative=3, class_sep=2.0, random_state=0)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7]),
        np.array(["no", "yes"]),
        np.array([False, True]),
        np.array([-1.0, 2.0]),  # integral floats; fractional ones are "continuous" to scikit-learn
    ],
    ids=["ints", "strings", "bools", "floats"],
)
def test_binary_labels_of_any_type_come_back_as_given(binary, labels):
    X, y = binary
    y_labels = labels[y]
    clf = SNNClassifier(**SMALL).fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == y_labels.dtype
    assert set(np.unique(predicted)) <= set(labels)
    assert clf.score(X, y_labels) > 0.8


def test_multiclass_string_labels_and_probabilities():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SNNClassifier(**SMALL).fit(X, names)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert clf.score(X, names) > 0.9


def test_fitted_attributes():
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**SMALL).fit(X, y)
    assert clf.n_features_in_ == 4
    assert not hasattr(clf, "feature_names_in_")  # numpy input has no names
    assert len(clf.loss_curve_) == clf.n_iter_ > 0
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None
    assert clf.module_.output.out_features == 3


def test_early_stopping_records_validation_scores():
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 60}, early_stopping=True, validation_fraction=0.2).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_regressor_standardizes_inside_and_returns_original_units():
    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    y_big = 1000.0 + 50.0 * y  # far from zero mean and unit variance
    reg = SNNRegressor(**{**SMALL, "max_iter": 150}).fit(X, y_big)
    np.testing.assert_allclose(reg._y_mean, [y_big.mean()])
    predictions = reg.predict(X)
    assert predictions.shape == (200,)
    assert abs(predictions.mean() - y_big.mean()) < 0.1 * y_big.std()
    assert reg.score(X, y_big) > 0.8


def test_regressor_several_targets():
    X, Y = make_regression(n_samples=200, n_features=4, n_targets=3, noise=1.0, random_state=0)
    Y[:, 2] *= 100.0
    reg = SNNRegressor(**{**SMALL, "max_iter": 150}).fit(X, Y)
    assert reg.n_outputs_ == 3
    assert reg.predict(X).shape == (200, 3)
    assert reg.score(X, Y) > 0.7
    column = SNNRegressor(**SMALL).fit(X, Y[:, :1])
    assert column.predict(X).shape == (200,)  # a single-column target predicts 1-D, as MLPRegressor


def test_partial_fit_runs_one_epoch_per_call_and_learns():
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**SMALL)
    for epoch in range(1, 31):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        assert clf.n_iter_ == epoch
    assert clf.score(X, y) > 0.85


def test_partial_fit_classes_declared_up_front():
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**SMALL).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X[y == 2], y[y == 2])  # a chunk with only the third class
    with pytest.raises(ValueError, match="not in classes_"):
        SNNClassifier(**SMALL).partial_fit(X[y < 2], y[y < 2]).partial_fit(X, y)


def test_warm_start_continues_from_previous_weights():
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 5}, warm_start=True).fit(X, y)
    weights = clf.module_.output.weight.detach().clone()
    module = clf.module_
    clf.fit(X, y)
    assert clf.module_ is module  # same network, trained further
    # As in MLPClassifier, n_iter_ counts the epochs of the last fit; the loss curve goes on.
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10
    assert not np.array_equal(weights.numpy(), clf.module_.output.weight.detach().numpy())
    cold = SNNClassifier(**{**SMALL, "max_iter": 5}).fit(X, y)
    refit = cold.module_
    cold.fit(X, y)
    assert cold.module_ is not refit and cold.n_iter_ == 5


def _network_matches_params(est):
    """The fitted network is the one get_params describes."""
    config = est.module_.get_config()
    params = est.get_params()
    sizes = params["hidden_layer_sizes"]
    assert config["hidden_layer_sizes"] == ([sizes] if isinstance(sizes, int) else list(sizes))
    for name in ("n_steps", "decay", "threshold", "refractory_penalty", "surrogate", "detach_reset", "encoder"):
        assert config[name] == params[name], name
    assert config["readout"] == params.get("readout", "membrane")


@pytest.mark.parametrize(
    "change, old",
    [
        ({"hidden_layer_sizes": (8,)}, "(16,)"),
        ({"hidden_layer_sizes": (16, 16)}, "(16,)"),
        ({"n_steps": 4}, "6"),
        ({"encoder": "latency"}, "'current'"),
        ({"readout": "spikes"}, "'membrane'"),
    ],
    ids=["narrower", "deeper", "n_steps", "encoder", "readout"],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_continuing_refuses_a_changed_architecture_and_keeps_the_model(change, old, method):
    """warm_start=True and partial_fit continue the fitted network: a parameter that fixes its shape
    or meaning, changed since, is refused before anything changes; warm_start=False refits."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 3}, warm_start=True).fit(X, y)
    module, n_iter, proba = clf.module_, clf.n_iter_, clf.predict_proba(X)
    (name,) = change
    clf.set_params(**change)
    how = "partial_fit continues" if method == "partial_fit" else "warm_start=True continues"
    with pytest.raises(ValueError, match=rf"{how} the fitted network, but {name} changed from "
                                         rf"{re.escape(old)} to .*{'call fit with ' if method == 'partial_fit' else ''}"
                                         rf"warm_start=False"):
        getattr(clf, method)(X, y)
    assert clf.module_ is module and clf.n_iter_ == n_iter
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    clf.set_params(warm_start=False).fit(X, y)
    _network_matches_params(clf)


def test_warm_start_refuses_other_columns_and_keeps_the_model():
    """The number of input columns fixes the first layer's weights: a warm start with other columns is refused."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 3}, warm_start=True).fit(X, y)
    module, n_iter = clf.module_, clf.n_iter_
    with pytest.raises(ValueError, match="X has 3 features, but SNNClassifier is expecting 4"):
        clf.fit(X[:, :3], y)
    assert clf.module_ is module and clf.n_iter_ == n_iter and clf.n_features_in_ == 4


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_continuing_applies_changed_neuron_parameters_to_the_kept_weights(method):
    """decay, threshold, refractory_penalty, surrogate and detach_reset changed between continued fits
    apply to the existing network: the weights carry over and the network matches get_params."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 3}, warm_start=True).fit(X, y)
    weights = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    changes = dict(decay=0.5, threshold=0.7, refractory_penalty=0.2, surrogate="atan", detach_reset=True)
    clf.set_params(**changes, learning_rate_init=1e-9, max_iter=1)  # weights barely move
    getattr(clf, method)(X, y)
    _network_matches_params(clf)
    assert clf.n_iter_ == (4 if method == "partial_fit" else 1) and len(clf.loss_curve_) == 4
    for name, tensor in clf.module_.state_dict().items():
        np.testing.assert_allclose(tensor.numpy(), weights[name].numpy(), atol=1e-6, err_msg=name)
    assert all(group["lr"] == 1e-9 for group in clf._optimizer.param_groups)
    fresh = SNNClassifier(**{**SMALL, **changes, "max_iter": 1}).fit(X, y)
    assert fresh.module_.get_config() == clf.module_.get_config()


def test_continuing_keeps_adams_running_averages():
    """A continued fit whose neuron parameters changed keeps Adam's moments (its step count goes on)."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(**{**SMALL, "max_iter": 2, "batch_size": 50}, warm_start=True).fit(X, y)
    clf.set_params(decay=0.8).partial_fit(X, y)
    steps = [float(state["step"]) for state in clf._optimizer.state_dict()["state"].values()]
    assert steps and all(step == 3 * 3 for step in steps)  # three epochs of three batches


def test_network_matches_params_after_fit_and_set_params_refit():
    """After any fit, the network is the one get_params describes (the regressor's readout included)."""
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    reg = SNNRegressor(**{**SMALL, "max_iter": 2}).fit(X, y)
    _network_matches_params(reg)
    reg.set_params(decay=0.3, n_steps=3).fit(X, y)
    _network_matches_params(reg)


@pytest.mark.parametrize("encoder", ["current", "noisy", "poisson", "latency"])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_every_encoder_and_readout_learns_iris(encoder, readout):
    """Every combination learns. A spike-count readout learns only while its output
    neurons fire; with single-spike latency input that is the hardest, and it is
    held to a lower bar."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(hidden_layer_sizes=(32,), n_steps=10, max_iter=80, learning_rate_init=0.01,
                        n_iter_no_change=20, random_state=0, encoder=encoder, readout=readout).fit(X, y)
    assert clf.score(X, y) > (0.6 if (encoder, readout) == ("latency", "spikes") else 0.85)


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "atan", "triangle", "sigmoid"])
def test_every_surrogate_learns(surrogate):
    X, y = load_iris(return_X_y=True)
    assert SNNClassifier(**SMALL, surrogate=surrogate).fit(X, y).score(X, y) > 0.8


def test_refractory_penalty_and_threshold_change_activity():
    X, y = load_iris(return_X_y=True)
    rates = []
    for penalty in (0.0, 2.0):
        clf = SNNClassifier(**{**SMALL, "max_iter": 1}, refractory_penalty=penalty).fit(X, y)
        rates.append(clf.simulate(X).firing_rates["hidden 1"])
    assert rates[1] < rates[0]


def test_verbose_shows_a_progress_bar_with_loss_and_validation_score(capsys):
    """verbose=1 draws a tqdm bar over epochs with the loss (and validation score);
    the default is silent."""
    X, y = load_iris(return_X_y=True)
    SNNClassifier(**{**SMALL, "max_iter": 4}).fit(X, y)
    assert capsys.readouterr().err == ""
    SNNClassifier(**{**SMALL, "max_iter": 4}, verbose=1, early_stopping=True).fit(X, y)
    err = capsys.readouterr().err
    assert "SNNClassifier" in err and "epoch" in err
    assert "loss=" in err and "val_score=" in err
    assert "4/4" in err


def test_best_loss_is_none_under_early_stopping_as_in_mlp():
    """With early stopping the validation score picks the model and best_loss_ is None; else the lowest loss."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(early_stopping=True, **SMALL).fit(X, y)
    assert clf.best_loss_ is None and clf.best_validation_score_ == max(clf.validation_scores_)
    epochs_before = len(clf.loss_curve_)
    clf.set_params(early_stopping=False, warm_start=True).fit(X, y)  # continued without early stopping
    assert clf.best_loss_ == min(clf.loss_curve_[epochs_before:])
    # partial_fit holds no rows out: it refuses early_stopping=True, as MLPClassifier does.
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        SNNClassifier(early_stopping=True, **SMALL).partial_fit(X, y)
    chunked = SNNClassifier(**SMALL).partial_fit(X, y)
    assert chunked.best_loss_ == chunked.loss_curve_[0]
