"""Activity, synaptic operations, energy, spike_penalty, firing health and init_firing_rate."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn.activity import (
    E_AC_PJ,
    E_MAC_PJ,
    EnergyDisplay,
    FiringHealthWarning,
    activity_report,
    calibrate_firing,
    hidden_rates,
    make_energy_scorer,
)

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=30, random_state=0)

# Two rows that the scaler maps to themselves (each column spans [0, 1]).
X_TINY = np.array([[0.0, 0.0], [1.0, 1.0]])
Y_TINY = np.array([0, 1])


def _hand_network(encoder="current", readout="membrane"):
    """A 2-3-2 network with fixed weights whose spikes are known by hand.

    decay 0.5, threshold 1, 4 steps. Row [1, 1] drives the hidden neurons
    with constant currents 1.5, 0.6 and -1.0:

    * 1.5: v = 1.5 (fire, 0.5), 1.75 (fire), 1.875 (fire), 1.9375 (fire): 4 spikes
    * 0.6: v = 0.6, 0.9, 1.05 (fire, 0.05), 0.625: 1 spike
    * -1.0: never fires.

    Row [0, 0] drives them with 0: no spikes. So 5 hidden spikes over 2 rows.
    The readout's bias makes class 0 win on both rows.
    """
    clf = SNNClassifier(
        (3,), n_steps=4, decay=0.5, threshold=1.0, encoder=encoder, readout=readout,
        max_iter=1, precision="float32", random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X_TINY, Y_TINY)
    with torch.no_grad():
        hidden, output = clf.module_.hidden[0], clf.module_.output
        hidden.weight.copy_(torch.tensor([[1.5, 0.0], [0.0, 0.6], [-1.0, 0.0]]))
        hidden.bias.zero_()
        output.weight.zero_()
        output.bias.copy_(torch.tensor([1.0, 0.0]))
    return clf


def test_report_counts_match_hand_computed_spikes():
    """Spikes, rates, ACs, MACs, dense MACs and energies equal the hand counts."""
    report = _hand_network().activity_report(X_TINY)
    assert list(report.index) == ["input", "hidden 1", "output", "total"]
    hidden = report.loc["hidden 1"]
    assert hidden["spikes_per_sample"] == pytest.approx(2.5)  # 5 spikes over 2 rows
    assert hidden["firing_rate"] == pytest.approx(5 / (2 * 3 * 4))
    assert hidden["acs_per_sample"] == pytest.approx(2.5 * 2)  # each spike reaches 2 outputs
    # A constant current is one dense product per sample: 2 x 3 MACs, no ACs.
    assert report.loc["input", "macs_per_sample"] == 6
    assert report.loc["input", "acs_per_sample"] == 0
    total = report.loc["total"]
    assert total["synops_per_sample"] == pytest.approx(5 + 6)
    assert total["dense_macs_per_sample"] == 2 * 3 + 3 * 2
    assert total["snn_energy_nJ"] == pytest.approx((5 * E_AC_PJ + 6 * E_MAC_PJ) / 1000)
    assert total["dense_energy_nJ"] == pytest.approx(12 * E_MAC_PJ / 1000)
    assert report.attrs["input_ops"] == "MAC"


def test_energies_per_operation_can_be_overridden():
    """e_ac and e_mac change the energies linearly and are recorded in attrs."""
    report = activity_report(_hand_network(), X_TINY, e_ac=1.0, e_mac=10.0)
    assert report.loc["total", "snn_energy_nJ"] == pytest.approx((5 * 1.0 + 6 * 10.0) / 1000)
    assert report.loc["total", "dense_energy_nJ"] == pytest.approx(12 * 10.0 / 1000)
    assert report.attrs["e_ac_pJ"] == 1.0 and report.attrs["e_mac_pJ"] == 10.0


def test_latency_input_counts_events_as_accumulates():
    """With spike input, each input event reaches the 3 hidden neurons: ACs, no MACs.

    Latency puts one spike per nonzero feature: row [1, 1] has 2, row [0, 0] none.
    """
    report = _hand_network(encoder="latency").activity_report(X_TINY)
    assert report.attrs["input_ops"] == "AC"
    assert report.loc["input", "spikes_per_sample"] == pytest.approx(1.0)
    assert report.loc["input", "acs_per_sample"] == pytest.approx(1.0 * 3)
    assert report.loc["input", "macs_per_sample"] == 0


def test_spiking_readout_is_counted_and_two_layers_use_next_width():
    """Fan-out is the next layer's width; a spiking readout's spikes are counted."""
    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier((8, 5), n_steps=6, max_iter=5, readout="spikes", random_state=0).fit(X, y)
    report = clf.activity_report(X)
    record = clf.simulate(X)
    first = record.spikes[0].sum() / len(X)
    assert report.loc["hidden 1", "fan_out"] == 5
    assert report.loc["hidden 1", "acs_per_sample"] == pytest.approx(first * 5)
    assert report.loc["hidden 2", "acs_per_sample"] == pytest.approx(record.spikes[1].sum() / len(X) * 3)
    assert report.loc["output", "spikes_per_sample"] == pytest.approx(record.spikes[2].sum() / len(X))
    assert report.loc["total", "dense_macs_per_sample"] == 4 * 8 + 8 * 5 + 5 * 3


def test_report_works_through_a_pipeline_and_is_a_dataframe():
    """A Pipeline ending in an SNN is reported on the transformed rows."""
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(FunctionTransformer(lambda a: a * 2.0), SNNClassifier(**FAST)).fit(X, y)
    report = activity_report(pipe, X)
    assert isinstance(report, pd.DataFrame)
    direct = activity_report(pipe[-1], X * 2.0)
    pd.testing.assert_frame_equal(report, direct)


def test_energy_display_draws_two_panels():
    """EnergyDisplay shows the per-layer operations and the two energies."""
    display = EnergyDisplay.from_estimator(_hand_network(), X_TINY)
    labels = [t.get_text() for t in display.axes_[1].get_xticklabels()]
    assert labels == ["SNN", "dense MLP"]
    heights = [p.get_height() for p in display.axes_[1].patches]
    assert heights == pytest.approx([(5 * E_AC_PJ + 6 * E_MAC_PJ) / 1000, 12 * E_MAC_PJ / 1000])


# ------------------------------------------------------------ spike_penalty
def test_scorer_is_score_minus_weighted_relative_operations():
    """make_energy_scorer(w) gives accuracy - w * synops / dense MACs (hand network: 11/12)."""
    clf = _hand_network()
    assert clf.score(X_TINY, Y_TINY) == 0.5  # class 0 wins on both rows
    assert make_energy_scorer(0.3)(clf, X_TINY, Y_TINY) == pytest.approx(0.5 - 0.3 * 11 / 12)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_larger_spike_penalty_lowers_the_firing_rate(digits):
    """With the same seed, a larger spike_penalty trains a network that fires less."""
    X, y = digits
    rates = []
    for penalty in (0.0, 0.5, 5.0):
        clf = SNNClassifier((32,), n_steps=8, max_iter=15, spike_penalty=penalty, random_state=0).fit(X, y)
        rates.append(clf.activity_report(X).loc["hidden 1", "firing_rate"])
    assert rates[0] > rates[1] > rates[2]


def test_grid_search_tunes_spike_penalty_with_the_energy_scorer(digits):
    """When operations are expensive the search picks the penalty that spikes least."""
    X, y = digits
    search = GridSearchCV(
        SNNClassifier((32,), n_steps=8, max_iter=15, random_state=0),
        {"spike_penalty": [0.0, 5.0]}, scoring=make_energy_scorer(weight=5.0), cv=2,
    ).fit(X, y)
    assert search.best_params_ == {"spike_penalty": 5.0}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]


def test_spike_penalty_is_validated():
    """A negative spike_penalty is refused by name."""
    with pytest.raises(ValueError, match="spike_penalty"):
        SNNClassifier(spike_penalty=-1.0).fit(X_TINY, Y_TINY)


def test_forward_with_rates_gives_the_same_output_and_differentiable_rates():
    """forward_with_rates returns forward's output and rates with a gradient."""
    clf = _hand_network()
    x = torch.tensor(X_TINY, dtype=torch.float32)
    clf.module_.train()
    output, rates = clf.module_.forward_with_rates(x)
    torch.testing.assert_close(output, clf.module_(x))
    assert rates.shape == (1,) and float(rates[0]) == pytest.approx(5 / 24)
    rates.sum().backward()
    assert clf.module_.hidden[0].weight.grad is not None


# ------------------------------------------------------------ firing health
def test_fit_warns_when_a_hidden_layer_is_silent():
    """A threshold far above any current leaves the layer silent: the warning names it."""
    X, y = load_iris(return_X_y=True)
    with pytest.warns(FiringHealthWarning, match=r"'hidden 1' is silent.*threshold"):
        SNNClassifier((16,), n_steps=6, max_iter=2, threshold=100.0, random_state=0).fit(X, y)


def test_fit_warns_when_a_hidden_layer_is_saturated():
    """A tiny threshold with a large bias makes every neuron fire at every step."""
    X, y = load_iris(return_X_y=True)
    with pytest.warns(FiringHealthWarning, match=r"'hidden 2' is saturated"):
        SNNClassifier((16, 16), n_steps=6, max_iter=1, threshold=1e-6, random_state=0,
                      init_firing_rate=0.99).fit(X, y)


def test_healthy_fit_does_not_warn():
    """A default-like fit on iris raises no FiringHealthWarning."""
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FiringHealthWarning)
        SNNClassifier(**FAST).fit(X, y)


def test_regressor_also_checks_firing_health():
    """The regressor warns like the classifier."""
    X, y = load_iris(return_X_y=True)
    with pytest.warns(FiringHealthWarning, match="silent"):
        SNNRegressor((8,), n_steps=4, max_iter=2, threshold=100.0, random_state=0).fit(X, y)


# ----------------------------------------------------------- init_firing_rate
def test_calibration_brings_each_hidden_layer_near_the_target_rate(digits):
    """After calibrate_firing every hidden layer fires near the asked rate."""
    X, y = digits
    clf = SNNClassifier((32, 16), n_steps=10, max_iter=1, random_state=0).fit(X, y)
    inputs = clf._prepare_X_fitted(X)
    for target in (0.05, 0.3):
        reached = calibrate_firing(clf, inputs, rate=target)
        assert reached == pytest.approx([target, target], abs=0.03)
        assert hidden_rates(clf, inputs) == pytest.approx([target, target], abs=0.03)


def test_init_firing_rate_sets_the_rate_before_training(digits):
    """A fit of one tiny step starts from the calibrated rate, far from the plain init's."""
    X, y = digits
    common = dict(hidden_layer_sizes=(32,), n_steps=10, max_iter=1, learning_rate_init=1e-6, random_state=0)
    plain = SNNClassifier(**common).fit(X, y)
    calibrated = SNNClassifier(init_firing_rate=0.4, **common).fit(X, y)
    rate = lambda est: hidden_rates(est, est._prepare_X_fitted(X))[0]  # noqa: E731
    assert rate(calibrated) == pytest.approx(0.4, abs=0.05)
    assert abs(rate(plain) - 0.4) > 0.1


def test_init_firing_rate_is_validated():
    """init_firing_rate outside (0, 1) is refused by name."""
    with pytest.raises(ValueError, match="init_firing_rate"):
        SNNClassifier(init_firing_rate=1.5).fit(X_TINY, Y_TINY)
