"""Training faults, determinism, thread safety and bounded prediction memory.

* A loss or weights that turn NaN or infinite roll back to the last good epoch
  with a RuntimeWarning; a first epoch that diverges raises and leaves the
  estimator unfitted. Ctrl-C keeps the last finished epoch. Early stopping
  keeps the best epoch's weights.
* The same random_state gives the same bits, in this process and in others.
* A row's prediction depends on nothing but the row: not on the rows predicted
  with it, their order, batch_size, or other threads predicting at once.
* Prediction runs the network in chunks of a fixed number of rows (event-driven
  inference, whose rows are independent, in chunks of at most a fixed number),
  and scales X in blocks of a fixed number of rows, whatever the number of rows.
"""

import contextvars
import itertools
import math
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from pynmsnn import SNNClassifier, SNNRegressor, _base, _kernels
from pynmsnn._engine import forced_engine
from pynmsnn._base import merge_rows, predict_chunk_rows, target_codes
from pynmsnn._tabular import TRANSFORM_BLOCK_ROWS, TableEncoding

# 150 rows in batches of 50: three optimizer steps per epoch. tol=0 and a huge
# n_iter_no_change: training runs exactly max_iter epochs unless a fault stops it.
# On the CPU, where bitwise equality with a reference run is promised.
BATCHES_PER_EPOCH = 3
STEADY = dict(hidden_layer_sizes=(16,), n_steps=6, batch_size=50, tol=0.0, n_iter_no_change=1000,
              random_state=0, device="cpu")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=150, n_features=4, noise=5.0, random_state=0)


def _case(kind, iris, regression):
    """(estimator class, X, y, output function) for a classifier or a regressor."""
    if kind == "classifier":
        return SNNClassifier, *iris, lambda est, X: est.predict_proba(X)
    return SNNRegressor, *regression, lambda est, X: est.predict(X)


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _same_weights(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _nan_loss_after(monkeypatch, est, n_calls):
    """Make ``est``'s loss NaN from call ``n_calls + 1`` on, as a diverging run does."""
    original, calls = est._loss, itertools.count(1)

    def loss(outputs, targets, weights=None):
        value = original(outputs, targets, weights)
        return value * float("nan") if next(calls) > n_calls else value

    monkeypatch.setattr(est, "_loss", loss)


def _interrupt_at(monkeypatch, est, call):
    """Make the ``call``-th optimizer step raise KeyboardInterrupt, as Ctrl-C would."""
    original, calls = est._train_step, itertools.count(1)

    def step(*args):
        if next(calls) == call:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(est, "_train_step", step)


# ------------------------------------------------------------------ divergence
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_nan_loss_rolls_back_to_the_last_good_epoch(kind, iris, regression, monkeypatch):
    """A NaN loss in epoch 4: the weights of epoch 3, a warning, finite predictions equal to 3 epochs'."""
    make, X, y, output = _case(kind, iris, regression)
    est = make(max_iter=8, **STEADY)
    _nan_loss_after(monkeypatch, est, 3 * BATCHES_PER_EPOCH + 1)  # the 2nd step of epoch 4
    diverged = r"diverged in epoch 4 \(its mean loss was nan\); rolled back to the weights of epoch 3"
    with pytest.warns(RuntimeWarning, match=diverged):
        assert est.fit(X, y) is est
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3 and np.isfinite(est.loss_curve_).all()
    reference = _quiet_fit(make(max_iter=3, **STEADY), X, y)
    assert _same_weights(est, reference)
    predictions = output(est, X)
    assert np.isfinite(predictions).all()
    np.testing.assert_array_equal(predictions, output(reference, X))


def test_weights_turning_infinite_under_a_finite_loss_roll_back(iris, monkeypatch):
    """Weights that overflow in an epoch's last step (its loss still finite) are caught too."""
    X, y = iris
    est = SNNClassifier(max_iter=8, **STEADY)
    original, calls = est._train_step, itertools.count(1)

    def step(*args):
        loss = original(*args)
        if next(calls) == 5 * BATCHES_PER_EPOCH:  # the last step of epoch 5
            with torch.no_grad():
                est.module_.output.weight[0, 0] = float("inf")
        return loss

    monkeypatch.setattr(est, "_train_step", step)
    with pytest.warns(RuntimeWarning, match=r"diverged in epoch 5 \(its weights became NaN or infinite\)"):
        est.fit(X, y)
    assert est.n_iter_ == 4
    assert _same_weights(est, _quiet_fit(SNNClassifier(max_iter=4, **STEADY), X, y))
    assert np.isfinite(est.predict_proba(X)).all()


@pytest.mark.parametrize("make, lr", [(SNNClassifier, 1e30), (SNNRegressor, 1e20)])
def test_first_epoch_divergence_raises_and_leaves_unfitted(make, lr, iris):
    """A huge learning rate diverges at once: a ValueError says to lower it; the estimator is unfitted."""
    X, y = iris
    est = _quiet_fit(make(max_iter=3, **STEADY), X, y)  # fitted before: the failed refit unfits it
    est.set_params(learning_rate_init=lr)
    now = re.escape(f"(now {lr:g})")
    with pytest.raises(ValueError, match=rf"diverged in its first epoch.*Lower learning_rate_init {now}"):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert set(vars(est)) == set(est.get_params())
    est.set_params(learning_rate_init=1e-3)
    assert np.isfinite(_quiet_fit(est, X, y).predict(X)).all()  # and it fits again afterwards


def test_partial_fit_divergence_restores_weights_and_optimizer(iris, monkeypatch):
    """A diverging partial_fit returns to the state before the call, Adam's moments included."""
    X, y = iris
    est = SNNClassifier(**STEADY)
    for _ in range(2):
        est.partial_fit(X, y, classes=[0, 1, 2])
    before = est.predict_proba(X)
    _nan_loss_after(monkeypatch, est, 0)
    with pytest.warns(RuntimeWarning, match=r"diverged in epoch 3.*weights of epoch 2"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), before)
    assert est.n_iter_ == 2
    monkeypatch.undo()  # a healthy step after the roll back equals one without the fault
    est.partial_fit(X, y)
    clean = SNNClassifier(**STEADY)
    for _ in range(3):
        clean.partial_fit(X, y, classes=[0, 1, 2])
    assert _same_weights(est, clean)


def test_snapshots_are_taken_once_per_epoch_not_per_batch(iris, monkeypatch):
    """The roll-back state is cloned at epoch ends only (plus once at the start of a continued fit)."""
    X, y = iris
    est = SNNClassifier(max_iter=5, **STEADY)
    calls = []
    original = est._snapshot
    monkeypatch.setattr(est, "_snapshot", lambda: calls.append(est.n_iter_) or original())
    _quiet_fit(est, X, y)
    assert calls == [1, 2, 3, 4, 5]  # 15 optimizer steps, 5 snapshots
    calls.clear()
    est.partial_fit(X, y)
    assert calls == [5, 6]


# ------------------------------------------------------------------ Ctrl-C
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_ctrl_c_keeps_the_last_finished_epoch(kind, iris, regression, monkeypatch):
    """Ctrl-C in epoch 3: fit returns self with the weights of epoch 2, n_iter_ == 2, and a warning."""
    make, X, y, output = _case(kind, iris, regression)
    est = make(max_iter=8, **STEADY)
    _interrupt_at(monkeypatch, est, 2 * BATCHES_PER_EPOCH + 2)
    with pytest.warns(RuntimeWarning, match=r"interrupted \(KeyboardInterrupt\) in epoch 3.*weights of epoch 2"):
        assert est.fit(X, y) is est
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    reference = _quiet_fit(make(max_iter=2, **STEADY), X, y)
    np.testing.assert_array_equal(output(est, X), output(reference, X))


def test_ctrl_c_in_the_first_epoch_stops_and_leaves_unfitted(iris, monkeypatch):
    """With no finished epoch there is nothing to keep: the KeyboardInterrupt goes on."""
    X, y = iris
    est = SNNClassifier(max_iter=8, **STEADY)
    _interrupt_at(monkeypatch, est, 2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)


# ------------------------------------------------------------------ early stopping
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_early_stopping_keeps_the_best_weights(kind, iris, regression):
    """After fit, the model's score on the held-out rows is best_validation_score_, not the last one."""
    make, X, y, _ = _case(kind, iris, regression)
    est = make(hidden_layer_sizes=(16,), n_steps=6, early_stopping=True, validation_fraction=0.2,
               n_iter_no_change=4, max_iter=200, learning_rate_init=0.02, random_state=0, device="cpu")
    _quiet_fit(est, X, y)
    # The split fit made: the same call on the same rows (identical rows merged, in the
    # order of their content) with the same seed.
    rows, counts = merge_rows(est.transform_inputs(X), target_codes(y), None, keep_order=False)
    X, y, counts = X[rows], y[rows], np.ones(len(rows)) if counts is None else counts
    stratify = y if kind == "classifier" else None
    _, X_val, _, y_val, _, w_val = train_test_split(X, y, counts, test_size=0.2, random_state=est._seed,
                                                    stratify=stratify)
    score = est.score(X_val, y_val, sample_weight=w_val)
    assert score == est.best_validation_score_ == max(est.validation_scores_)
    if kind == "regressor":  # R^2 has no ties: the last epochs scored less, so weights were restored
        assert est.validation_scores_[-1] < est.best_validation_score_


# ------------------------------------------------------------------ determinism
FIT_AND_HASH = """
import hashlib, warnings
import torch
torch.set_num_threads(THREADS)
warnings.simplefilter("ignore")
from sklearn.datasets import load_iris
from pynmsnn import SNNClassifier
X, y = load_iris(return_X_y=True)
for encoder in ["current", "poisson"]:
    est = SNNClassifier(hidden_layer_sizes=(16,), n_steps=6, max_iter=15, encoder=encoder, random_state=7,
                        device="cpu")
    print(hashlib.sha256(est.fit(X, y).predict_proba(X).tobytes()).hexdigest())
"""


def test_same_random_state_gives_the_same_bits_across_processes():
    """Two fresh processes and this one fit the same model: identical predict_proba bytes (CPU)."""
    script = FIT_AND_HASH.replace("THREADS", str(torch.get_num_threads()))  # as many as here
    hashes = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       check=True, timeout=300).stdout.split()
        for _ in range(2)
    ]
    here = []
    with warnings.catch_warnings():
        exec(script, {"print": here.append})  # noqa: S102 - the same script, in this process
    assert hashes[0] == hashes[1] == here
    assert len(set(hashes[0])) == 2  # the two encoders give two different models


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    est = SNNClassifier(hidden_layer_sizes=(16,), n_steps=6, max_iter=20, random_state=0, device="cpu")
    return _quiet_fit(est, X, y)


@pytest.fixture(params=["event-driven", "dense"])
def inference_path(request):
    """Each test that takes it runs with event-driven inference on, then off."""
    if request.param == "event-driven" and not _kernels.HAVE_EVENT_KERNEL:
        pytest.skip("the event-driven kernel is not built")
    with forced_engine(inference="event" if request.param == "event-driven" else "dense"):
        yield request.param


def test_a_rows_prediction_does_not_depend_on_the_other_rows(fitted, iris, inference_path):
    """One by one, all at once, shuffled, or repeated across chunk boundaries: the same bits."""
    X, _ = iris
    together = fitted.predict_proba(X)
    one_by_one = np.vstack([fitted.predict_proba(X[i : i + 1]) for i in range(0, len(X), 5)])
    np.testing.assert_array_equal(one_by_one, together[::5])
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(fitted.predict_proba(X[order]), together[order])
    chunk = predict_chunk_rows(fitted.n_steps, [layer.out_features for layer in fitted.module_.layers])
    repeats = math.ceil(2.5 * chunk / len(X))  # rows land at every offset of several chunks
    many = fitted.predict_proba(np.tile(X, (repeats, 1)))
    np.testing.assert_array_equal(many, np.tile(together, (repeats, 1)))


def test_batch_size_does_not_change_predictions(fitted, iris):
    """batch_size is a training setting: predictions are the same bits whatever its value."""
    X, _ = iris
    expected = fitted.predict_proba(X)
    try:
        for batch_size in [1, 7, 1000]:
            fitted.set_params(batch_size=batch_size)
            np.testing.assert_array_equal(fitted.predict_proba(X), expected)
    finally:
        fitted.set_params(batch_size="auto")


def test_predict_from_several_threads_at_once(fitted, iris, inference_path):
    """Four threads predicting slices at once give exactly the serial result."""
    X = np.tile(iris[0], (20, 1))  # 3,000 rows
    slices = np.array_split(np.arange(len(X)), 12)
    serial = [fitted.predict_proba(X[index]) for index in slices]
    # Each thread runs in a copy of this context, so that the forced engine holds there too.
    contexts = [contextvars.copy_context() for _ in slices]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda c, index: c.run(fitted.predict_proba, X[index]), contexts, slices))
    for a, b in zip(threaded, serial):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ bounded memory
@pytest.mark.parametrize("n_rows", [10, 3_000, 20_000])
def test_predict_runs_the_network_in_fixed_size_chunks(fitted, n_rows, monkeypatch):
    """Whatever the number of rows, the network only ever sees chunks of the same fixed size."""
    with forced_engine(inference="dense"):
        _predicts_in_fixed_chunks(fitted, n_rows, monkeypatch)


def _predicts_in_fixed_chunks(fitted, n_rows, monkeypatch):
    module = fitted.module_
    chunk = predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers])
    seen, forward = [], module.forward

    def recording_forward(x, *args, **kwargs):
        seen.append(x.shape)
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(module, "forward", recording_forward)
    X = np.random.default_rng(0).uniform(0, 8, size=(n_rows, 4))
    assert fitted.predict(X).shape == (n_rows,)
    assert {shape[0] for shape in seen} == {chunk}
    assert len(seen) == math.ceil(n_rows / chunk)


@pytest.mark.parametrize("n_rows", [10, 2_500])
def test_event_driven_predict_runs_the_rows_in_bounded_chunks(fitted, n_rows, monkeypatch):
    """Event-driven, the network sees the rows as they are, at most EVENT_CHUNK_ROWS at a time."""
    monkeypatch.setattr(_base, "EVENT_CHUNK_ROWS", 1_000)
    module = fitted.module_
    seen, forward = [], module.forward

    def recording_forward(x, *args, **kwargs):
        seen.append(x.shape[0])
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(module, "forward", recording_forward)
    X = np.random.default_rng(0).uniform(0, 8, size=(n_rows, 4))
    expected = fitted.predict_proba(X)
    assert seen == [1_000] * (n_rows // 1_000) + ([n_rows % 1_000] if n_rows % 1_000 else [])
    # The dense path adds float32 sums in another order: a membrane within
    # rounding of the threshold may fire in one path only, so a few rows may differ.
    with forced_engine(inference="dense"):
        same = np.isclose(fitted.predict_proba(X), expected, rtol=1e-5, atol=1e-6).all(axis=1)
    assert same.mean() >= 0.99


def test_scaling_works_in_bounded_blocks(monkeypatch):
    """TableEncoding.transform scales at most TRANSFORM_BLOCK_ROWS rows at a time; the result is the same."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * TRANSFORM_BLOCK_ROWS + 5, 3))
    scaler = TableEncoding().fit(X)
    sizes, block = [], scaler._transform_block

    def recording_block(rows, first_row):
        sizes.append(len(rows))
        return block(rows, first_row)

    monkeypatch.setattr(scaler, "_transform_block", recording_block)
    scaled = scaler.transform(X)
    assert sizes == [TRANSFORM_BLOCK_ROWS, TRANSFORM_BLOCK_ROWS, 5]
    expected = np.clip((X - scaler.min_) * scaler.scale_, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(scaled, expected)
