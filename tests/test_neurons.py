"""The LIF neuron: its parameters, golden trajectories by hand, and properties of the scan.

Every backend against the reference, over the neuron settings: tests/test_engine_golden.py.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pynmsnn import _kernels
from pynmsnn.neurons import LIFParameters, lif_reference, lif_scan, lif_step, readout_weights
from pynmsnn.surrogate import FAST_SIGMOID_SLOPE


def lif(decay=0.9, threshold=1.0, refractory_penalty=0.0, reset="subtract", **settings):
    """A neuron; these hand-derived tests state their reset (the subtracting one unless they say)."""
    return LIFParameters(decay=decay, threshold=threshold, refractory_penalty=refractory_penalty, reset=reset,
                         **settings)


def test_golden_membrane_trajectory():
    """decay=0.5, threshold=1, penalty=0.5, constant input 0.8, computed by hand:
    v1=0.8; v2=0.4+0.8=1.2 fires -> 1.2-1.5=-0.3; v3=-0.15+0.8=0.65;
    v4=0.325+0.8=1.125 fires -> -0.375; v5=-0.1875+0.8=0.6125."""
    current = torch.full((5, 1), 0.8, dtype=torch.float64)
    spikes, membrane = lif_reference(current, lif(0.5, 1.0, 0.5))
    torch.testing.assert_close(membrane.flatten(), torch.tensor([0.8, 1.2, 0.65, 1.125, 0.6125], dtype=torch.float64))
    torch.testing.assert_close(spikes.flatten(), torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(lif_scan(current, lif(0.5, 1.0, 0.5)), spikes)


def test_golden_trajectory_with_reset_to_a_fixed_potential():
    """reset='zero', decay=0.5, threshold=1, penalty=0.5, constant input 0.8, by hand:
    v1=0.8; v2=0.4+0.8=1.2 fires -> -0.5 (the penalty below rest); v3=-0.25+0.8=0.55;
    v4=0.275+0.8=1.075 fires -> -0.5; v5=-0.25+0.8=0.55."""
    current = torch.full((5, 1), 0.8, dtype=torch.float64)
    neuron = lif(0.5, 1.0, 0.5, reset="zero")
    spikes, membrane = lif_reference(current, neuron)
    torch.testing.assert_close(membrane.flatten(), torch.tensor([0.8, 1.2, 0.55, 1.075, 0.55], dtype=torch.float64))
    torch.testing.assert_close(spikes.flatten(), torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64))
    for backend in ["torch"] + (["c"] if _kernels.HAVE_C_SCAN else []):
        torch.testing.assert_close(lif_scan(current, neuron, backend=backend), spikes)


@settings(max_examples=60, deadline=None)
@given(excess=st.floats(0.0, 50.0), penalty=st.floats(0.0, 4.0), decay=st.floats(0.0, 1.0))
def test_reset_zero_leaves_exactly_minus_the_penalty(excess, penalty, decay):
    """After a spike, reset='zero' sets the membrane to -refractory_penalty exactly, whatever the excess."""
    neuron = lif(decay, 1.0, penalty, reset="zero")
    _, _, v = lif_step(torch.zeros(1, dtype=torch.float64), torch.tensor([1.0 + excess + 1e-9], dtype=torch.float64),
                       neuron)
    assert v.item() == -penalty


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(decay=1.5), r"decay must be in \[0, 1\]"),
        (dict(threshold=0.0), "threshold must be > 0"),
        (dict(threshold=float("nan")), "threshold must be finite"),
        (dict(refractory_penalty=-1.0), "refractory_penalty must be >= 0"),
        (dict(reset="soft"), r"reset='soft'.*'subtract', 'zero'"),
        (dict(surrogate="relu"), "Unknown surrogate 'relu'"),
        (dict(decay="0.5x"), "decay must be a number"),
    ],
)
def test_parameters_that_make_no_neuron_are_refused_by_name(settings, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LIFParameters(**settings)


def test_parameters_are_one_frozen_value():
    """Hashable and immutable, so that kernels and caches can take the neuron whole."""
    neuron = lif(0.5)
    with pytest.raises(AttributeError):
        neuron.decay = 0.7
    assert neuron == lif(0.5) and hash(neuron) == hash(lif(0.5))
    assert neuron.replace(reset="zero").forget == 1.0 and neuron.forget == 0.0


def test_refractory_penalty_lowers_the_rate():
    """A larger penalty holds the neuron below rest longer, so it fires less."""
    current = torch.full((50, 1), 0.6)
    for reset in ("subtract", "zero"):
        rates = [lif_scan(current, lif(0.9, 1.0, p, reset=reset)).mean().item() for p in (0.0, 1.0, 3.0)]
        assert rates[0] > rates[1] > rates[2] > 0


@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(0.0, 0.99),
    decay=st.floats(0.0, 1.0),
    n_steps=st.integers(1, 30),
)
def test_below_threshold_never_fires(level, decay, n_steps):
    """With input I and no spikes, v converges to I/(1-decay) from below; if that stays
    under threshold (or the step count keeps it there), nothing fires."""
    current = torch.full((n_steps, 3), level * (1.0 - decay) if decay < 1 else 0.0)
    assert lif_scan(current, lif(decay, 1.0)).sum().item() == 0


@settings(max_examples=30, deadline=None)
@given(low=st.floats(0.0, 2.0), extra=st.floats(0.0, 2.0), decay=st.floats(0.0, 1.0),
       reset=st.sampled_from(["subtract", "zero"]))
def test_rate_does_not_fall_as_input_rises(low, extra, decay, reset):
    """Firing rate is monotone in a constant input current, for either reset."""
    n_steps = 40
    neuron = lif(decay, 1.0, 0.2, reset=reset)
    rate = lambda level: lif_scan(torch.full((n_steps, 1), level, dtype=torch.float64), neuron).sum()
    assert rate(low + extra) >= rate(low)


def test_the_reset_changes_the_gradient_and_not_the_spikes():
    """detach_reset only drops the reset's term from the gradient: g[t+1] is scaled by 1 - drop * sg[t]."""
    current = torch.tensor([[1.2], [0.3]], dtype=torch.float64)  # fires at step 0 only
    grads, spikes = [], []
    for detach_reset in (False, True):
        leaf = current.clone().requires_grad_(True)
        out = lif_scan(leaf, lif(0.5, detach_reset=detach_reset))
        out[1].sum().backward()  # the loss sees step 1 only
        grads.append(leaf.grad[0, 0].item())
        spikes.append(out.detach())
    torch.testing.assert_close(spikes[0], spikes[1])
    v1 = 0.5 * (1.2 - 1.0) + 0.3
    sg = lambda x: 1.0 / (1.0 + FAST_SIGMOID_SLOPE * abs(x)) ** 2  # noqa: E731
    assert grads[1] == pytest.approx(sg(v1 - 1.0) * 0.5)
    assert grads[0] == pytest.approx(sg(v1 - 1.0) * 0.5 * (1.0 - sg(1.2 - 1.0)))


def test_constant_current_gradient_sums_over_time():
    """An expanded (constant) current receives the sum of the per-step gradients."""
    base = torch.full((3, 2), 0.7, dtype=torch.float64, requires_grad=True)
    lif_scan(base.unsqueeze(0).expand(8, 3, 2), lif()).sum().backward()
    full = base.detach().unsqueeze(0).repeat(8, 1, 1).requires_grad_(True)
    lif_scan(full, lif()).sum().backward()
    torch.testing.assert_close(base.grad, full.grad.sum(0))


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 1.0])
def test_readout_weights_equal_the_averaged_leaky_membrane(decay):
    """mean_t v[t] of a leaky integrator equals sum_k c[k] I[k]."""
    current = torch.randn(7, 3, dtype=torch.float64)
    v, total = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for step in current:
        v = decay * v + step
        total += v
    weights = readout_weights(7, decay, dtype=torch.float64)
    torch.testing.assert_close(weights @ current, total / 7)


def test_inference_scan_equals_training_scan_and_keeps_no_graph():
    """Without autograd the scan keeps one step of membrane and builds no graph;
    its spikes equal the training scan's."""
    current = torch.randn(10, 4, 6) + 0.5
    with torch.no_grad():
        inference = lif_scan(current, lif(0.9, 1.0, 0.2))
    assert inference.grad_fn is None
    training = lif_scan(current.clone().requires_grad_(True), lif(0.9, 1.0, 0.2))
    assert training.grad_fn is not None
    torch.testing.assert_close(inference, training.detach(), rtol=0, atol=0)


def test_estimator_predict_never_enters_the_autograd_scan(monkeypatch):
    """predict runs under inference mode: the autograd Function is never applied."""
    from sklearn.datasets import load_iris

    from pynmsnn import SNNClassifier
    from pynmsnn import neurons

    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(hidden_layer_sizes=(8, 8), n_steps=5, max_iter=3, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)

    def refuse(*args, **kwargs):
        raise AssertionError("the autograd scan ran during predict")

    monkeypatch.setattr(neurons._LIFScan, "apply", refuse)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_the_c_scan_is_built():
    """setup.sh builds pynmsnn/_cscan.c; without a compiler the torch loop runs instead."""
    assert _kernels.HAVE_C_SCAN
