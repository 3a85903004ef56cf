"""MLPClassifier's parameters: the solvers, their settings and schedules, coefs_, activation, sparse X."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn._params import InvalidParameterError

SMALL = dict(hidden_layer_sizes=(16,), n_steps=6, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=3, return_X_y=True)
    return MinMaxScaler().fit_transform(X[:200]), y[:200]


# ------------------------------------------------------------------ stochastic solvers
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_n_epochs_of_fit_are_n_calls_of_partial_fit(solver, digits):
    """Each epoch draws from a seed of its own and the optimizer state carries over: the same bits."""
    X, y = digits
    params = dict(solver=solver, learning_rate_init=0.05, tol=0, n_iter_no_change=np.inf, **SMALL)
    fitted = SNNClassifier(max_iter=6, **params).fit(X, y)
    chunked = SNNClassifier(**params)
    for _ in range(6):
        chunked.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(chunked.predict_proba(X), fitted.predict_proba(X))
    assert chunked.loss_curve_ == fitted.loss_curve_ and fitted.n_iter_ == 6


def test_sgd_learns_and_momentum_matters(digits):
    X, y = digits
    plain = SNNClassifier(solver="sgd", learning_rate_init=0.05, momentum=0.0, max_iter=40, **SMALL).fit(X, y)
    heavy = SNNClassifier(solver="sgd", learning_rate_init=0.05, max_iter=40, **SMALL).fit(X, y)
    nesterov_off = SNNClassifier(solver="sgd", learning_rate_init=0.05, max_iter=40, nesterovs_momentum=False,
                                 **SMALL).fit(X, y)
    assert heavy.score(X, y) > 0.95
    assert heavy.loss_curve_[10] < plain.loss_curve_[10]  # momentum speeds it up
    assert nesterov_off.loss_curve_ != heavy.loss_curve_


def test_invscaling_lowers_the_step_size_by_the_rows_seen(iris):
    """After a fit the step size is learning_rate_init / (t_ + 1) ** power_t, as in MLPClassifier."""
    X, y = iris
    clf = SNNClassifier(solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=3, **SMALL).fit(X, y)
    assert clf.t_ == 3 * 149  # iris has two identical rows, which train as one of weight 2
    assert clf._optimizer.learning_rate == pytest.approx(1e-3 / (clf.t_ + 1) ** 0.25)
    constant = SNNClassifier(solver="sgd", max_iter=3, **SMALL).fit(X, y)
    assert constant._optimizer.learning_rate == 1e-3


def test_adaptive_divides_the_step_size_on_a_plateau_and_stops_below_1e_6(iris):
    X, y = iris
    clf = SNNClassifier(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1, max_iter=500,
                        **SMALL).fit(X, y)
    # Every epoch is a plateau at tol=10: 1e-3 / 5**k until it is 1e-6 or less, two epochs each.
    assert clf._optimizer.learning_rate == pytest.approx(1e-3 / 5**5)
    assert clf.n_iter_ < 500


def test_adam_takes_its_betas_and_epsilon(iris):
    X, y = iris
    clf = SNNClassifier(beta_1=0.5, beta_2=0.9, epsilon=1e-3, max_iter=2, **SMALL).fit(X, y)
    assert clf._optimizer.betas == (0.5, 0.9) and clf._optimizer.eps == 1e-3
    default = SNNClassifier(max_iter=2, **SMALL).fit(X, y)
    assert clf.loss_curve_ != default.loss_curve_


def test_changing_the_solver_of_a_warm_start_starts_a_new_optimizer(iris):
    X, y = iris
    clf = SNNClassifier(max_iter=2, warm_start=True, **SMALL).fit(X, y)
    clf.set_params(solver="sgd").fit(X, y)
    assert type(clf._optimizer).__name__ == "SGD" and len(clf.loss_curve_) == 4


# ------------------------------------------------------------------ lbfgs
def test_lbfgs_learns_small_data_in_few_iterations(iris):
    X, y = iris
    clf = SNNClassifier(solver="lbfgs", max_iter=100, **SMALL).fit(X, y)
    assert clf.score(X, y) > 0.9 and clf.n_iter_ <= 100
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_ == clf.best_loss_ <= min(clf.loss_curve_)
    assert clf.validation_scores_ is None


@pytest.mark.parametrize("limit", [dict(max_iter=3), dict(max_fun=5)])
def test_lbfgs_stops_at_max_iter_and_max_fun_with_a_warning(limit, iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match=r"lbfgs stopped after \d+ iteration\(s\)"):
        clf = SNNClassifier(solver="lbfgs", tol=0.0, **{**SMALL, **limit}).fit(X, y)
    assert clf.n_iter_ <= limit.get("max_iter", limit.get("max_fun"))


def test_lbfgs_is_deterministic_with_a_random_encoder_and_weights(iris):
    """The noise is drawn alike at every evaluation; zero weight is still the row absent."""
    X, y = iris
    params = dict(solver="lbfgs", encoder="noisy", max_iter=20, **SMALL)
    w = np.where(np.arange(len(X)) % 4 == 0, 0.0, 1.0)
    a = SNNClassifier(**params).fit(X, y, sample_weight=w).predict_proba(X)
    b = SNNClassifier(**params).fit(X[w > 0], y[w > 0]).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_lbfgs_has_no_partial_fit_and_ignores_early_stopping(iris):
    X, y = iris
    clf = SNNRegressor(solver="lbfgs", early_stopping=True, max_iter=10, **SMALL)
    assert not hasattr(clf, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        clf.partial_fit(X, y)
    assert "only available for stochastic optimizers. lbfgs is not stochastic" in str(error.value.__cause__)
    clf.fit(X[:, :3], X[:, 3])
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert hasattr(clf.set_params(solver="sgd"), "partial_fit")


# ------------------------------------------------------------------ MLPClassifier's other conventions
def test_activation_is_refused_with_a_pointer_to_surrogate(iris):
    X, y = iris
    message = r"'activation' parameter of SNNClassifier must be None.*spikes.*surrogate= one of \['atan'"
    with pytest.raises(InvalidParameterError, match=message):
        SNNClassifier(activation="relu").fit(X, y)
    assert SNNClassifier(activation=None, max_iter=1, **SMALL).fit(X, y).n_iter_ == 1


def test_coefs_and_intercepts_are_read_only_copies_of_the_weights(iris):
    X, y = iris
    clf = SNNClassifier(hidden_layer_sizes=(8, 5), n_steps=4, max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (5,), (3,)] and clf.n_layers_ == 4
    np.testing.assert_array_equal(clf.coefs_[-1], clf.module_.output.weight.detach().numpy().T)
    with pytest.raises(ValueError, match="read-only"):
        clf.coefs_[0][0, 0] = 1.0
    with pytest.raises(AttributeError):
        clf.coefs_ = []
    assert not hasattr(SNNClassifier(), "coefs_")  # unfitted


def test_n_iter_no_change_may_be_infinite(iris):
    X, y = iris
    clf = SNNClassifier(tol=1e9, n_iter_no_change=np.inf, max_iter=12, **SMALL)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.n_iter_ == 12 and clf._no_improvement_count == 11


def test_verbose_2_prints_mlps_lines(iris, capsys):
    X, y = iris
    SNNClassifier(verbose=2, max_iter=2, **SMALL).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r"[\d.]+$", "L", line) for line in lines] == ["Iteration 1, loss = L", "Iteration 2, loss = L"]


def test_a_warm_start_needs_the_same_classes(iris):
    X, y = iris
    clf = SNNClassifier(warm_start=True, max_iter=2, **SMALL).fit(X, y)
    message = "warm_start can only be used where `y` has the same classes as in the previous call to fit"
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.fit(X[y < 2], y[y < 2])
    clf.fit(X, y)  # the same classes go on
    assert len(clf.loss_curve_) == 4


def test_regressor_predicts_the_mlp_way_with_sgd():
    """SNNRegressor takes the same parameters; sgd at a small step learns a smooth target."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(200, 3))
    y = X @ [1.0, -2.0, 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = SNNRegressor(solver="sgd", learning_rate_init=0.01, max_iter=60, hidden_layer_sizes=(32,),
                           n_steps=6, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.8


def test_a_pickle_from_before_the_solver_parameters_loads_with_their_defaults(iris):
    """An estimator pickled without solver, momentum, class_weight, ... takes their defaults and goes on."""
    import pickle

    X, y = iris
    clf = SNNClassifier(max_iter=2, **SMALL).fit(X, y)
    state = clf.__getstate__()
    for name in ("solver", "learning_rate", "momentum", "beta_1", "max_fun", "activation", "class_weight"):
        del state[name]
    old = SNNClassifier.__new__(SNNClassifier)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.get_params()["solver"] == "adam" and restored.class_weight is None
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.partial_fit(X, y).n_iter_ == 3
