"""Anytime answers: staged_predict and staged_predict_proba after each time step."""

import copy

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import NotFittedError

from pynmsnn import SNNClassifier, SNNRegressor

# Module-scoped fits run outside the per-test warning filter of conftest.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500], y[:500]


@pytest.fixture(scope="module")
def classifier(digits):
    X, y = digits
    return SNNClassifier((24,), n_steps=8, max_iter=15, random_state=0).fit(X, y)


def test_one_stage_per_step_and_the_last_is_predict(classifier, digits):
    """n_steps stages; the last equals predict_proba and predict."""
    X, _ = digits
    probas = list(classifier.staged_predict_proba(X))
    labels = list(classifier.staged_predict(X))
    assert len(probas) == len(labels) == classifier.n_steps
    np.testing.assert_allclose(probas[-1], classifier.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(labels[-1], classifier.predict(X))
    for proba, label in zip(probas, labels):
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(label, classifier.classes_[proba.argmax(axis=1)])


def test_stage_t_is_the_network_run_for_t_steps(classifier, digits):
    """Stage t uses only the first t steps: it equals the same weights simulated t steps."""
    X, _ = digits
    probas = list(classifier.staged_predict_proba(X[:50]))
    for t in (1, 3, 6):
        shorter = copy.deepcopy(classifier)
        shorter.module_.n_steps = t
        np.testing.assert_allclose(probas[t - 1], shorter.predict_proba(X[:50]), atol=1e-5)
    assert not np.allclose(probas[0], probas[-1])  # the answer does change over time


def test_spike_readout_stages_count_spikes_so_far(digits):
    """With readout='spikes' the logits are counts: they never fall from stage to stage."""
    X, y = digits
    clf = SNNClassifier((24,), n_steps=8, max_iter=10, readout="spikes", random_state=0).fit(X, y)
    outputs = clf._staged_outputs(X)
    assert np.all(np.diff(outputs, axis=0) >= 0)
    assert np.all(outputs == np.round(outputs))
    np.testing.assert_allclose(list(clf.staged_predict_proba(X))[-1], clf.predict_proba(X), atol=1e-6)


def test_regressor_last_stage_is_predict():
    """The regressor's stages are in target units and end at predict (1 and 2 targets)."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:200], y[:200]
    for target in (y, np.column_stack([y, -y])):
        reg = SNNRegressor((16,), n_steps=6, max_iter=10, random_state=0).fit(X, target)
        stages = list(reg.staged_predict(X))
        assert len(stages) == 6 and stages[0].shape == target.shape
        np.testing.assert_allclose(stages[-1], reg.predict(X), rtol=1e-5, atol=1e-3)


def test_unfitted_staged_predict_fails_at_the_call():
    """The error comes when staged_predict is called, not when iterated."""
    with pytest.raises(NotFittedError):
        SNNClassifier().staged_predict(np.zeros((2, 3)))
