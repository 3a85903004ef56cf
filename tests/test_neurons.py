"""The LIF scan: golden trajectories by hand, and the fast path against the reference."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pynmsnn.neurons import lif_reference, lif_scan, readout_weights
from pynmsnn.surrogate import FAST_SIGMOID_SLOPE, SURROGATES


def test_golden_membrane_trajectory():
    """decay=0.5, threshold=1, penalty=0.5, constant input 0.8, computed by hand:
    v1=0.8; v2=0.4+0.8=1.2 fires -> 1.2-1.5=-0.3; v3=-0.15+0.8=0.65;
    v4=0.325+0.8=1.125 fires -> -0.375; v5=-0.1875+0.8=0.6125."""
    current = torch.full((5, 1), 0.8, dtype=torch.float64)
    spikes, membrane = lif_reference(current, 0.5, 1.0, 0.5)
    torch.testing.assert_close(membrane.flatten(), torch.tensor([0.8, 1.2, 0.65, 1.125, 0.6125], dtype=torch.float64))
    torch.testing.assert_close(spikes.flatten(), torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(lif_scan(current, 0.5, 1.0, 0.5), spikes)


def test_refractory_penalty_lowers_the_rate():
    """A larger penalty holds the neuron below rest longer, so it fires less."""
    current = torch.full((50, 1), 0.6)
    rates = [lif_scan(current, 0.9, 1.0, p).mean().item() for p in (0.0, 1.0, 3.0)]
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
    assert lif_scan(current, decay, 1.0).sum().item() == 0


@settings(max_examples=30, deadline=None)
@given(low=st.floats(0.0, 2.0), extra=st.floats(0.0, 2.0), decay=st.floats(0.0, 1.0))
def test_rate_does_not_fall_as_input_rises(low, extra, decay):
    """Firing rate is monotone in a constant input current."""
    n_steps = 40
    rate = lambda level: lif_scan(torch.full((n_steps, 1), level, dtype=torch.float64), decay, 1.0, 0.2).sum()
    assert rate(low + extra) >= rate(low)


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
@pytest.mark.parametrize("penalty", [0.0, 0.7])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("use_c", [True, False])
def test_fast_scan_equals_reference_forward_and_gradient(monkeypatch, surrogate, penalty, detach_reset, use_c):
    """The hand-written backward (C sweep or torch) equals autograd through the step-by-step reference."""
    from pynmsnn import neurons

    monkeypatch.setattr(neurons, "USE_C_SCAN", use_c)
    generator = torch.Generator().manual_seed(0)
    current = (torch.randn(12, 4, 5, generator=generator, dtype=torch.float64) + 0.6).requires_grad_(True)
    upstream = torch.randn(12, 4, 5, generator=generator, dtype=torch.float64)

    fast = lif_scan(current, 0.8, 1.0, penalty, surrogate, detach_reset=detach_reset)
    (fast * upstream).sum().backward()
    fast_grad = current.grad.clone()
    current.grad = None
    reference, _ = lif_reference(current, 0.8, 1.0, penalty, surrogate, detach_reset=detach_reset)
    (reference * upstream).sum().backward()

    torch.testing.assert_close(fast, reference)
    assert fast.sum() > 0  # the comparison covers firing neurons
    torch.testing.assert_close(fast_grad, current.grad)


def test_the_reset_changes_the_gradient_and_not_the_spikes():
    """detach_reset only drops the reset's term from the gradient: g[t+1] is scaled by 1 - drop * sg[t]."""
    current = torch.tensor([[1.2], [0.3]], dtype=torch.float64)  # fires at step 0 only
    grads, spikes = [], []
    for detach_reset in (False, True):
        leaf = current.clone().requires_grad_(True)
        out = lif_scan(leaf, 0.5, 1.0, 0.0, "fast_sigmoid", detach_reset=detach_reset)
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
    lif_scan(base.unsqueeze(0).expand(8, 3, 2), 0.9, 1.0).sum().backward()
    full = base.detach().unsqueeze(0).repeat(8, 1, 1).requires_grad_(True)
    lif_scan(full, 0.9, 1.0).sum().backward()
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
        inference = lif_scan(current, 0.9, 1.0, 0.2)
    assert inference.grad_fn is None
    training = lif_scan(current.clone().requires_grad_(True), 0.9, 1.0, 0.2)
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
    from pynmsnn import neurons

    assert neurons._cscan is not None


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
@pytest.mark.parametrize("constant", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_c_loops_equal_torch_loops(monkeypatch, surrogate, constant, dtype, detach_reset):
    """The C forward and backward sweeps give the torch loops' spikes and gradients."""
    from pynmsnn import neurons

    generator = torch.Generator().manual_seed(1)
    shape = (6, 7) if constant else (15, 6, 7)
    current = (torch.randn(shape, generator=generator, dtype=dtype) * 0.8 + 0.5).requires_grad_(True)
    upstream = torch.randn((15, 6, 7), generator=generator, dtype=dtype)
    results = []
    for use_c in (True, False):
        monkeypatch.setattr(neurons, "USE_C_SCAN", use_c)
        current.grad = None
        spikes = lif_scan(current, 0.85, 1.0, 0.4, surrogate, 15 if constant else None, detach_reset)
        (spikes * upstream).sum().backward()
        with torch.no_grad():
            inference = lif_scan(current, 0.85, 1.0, 0.4, surrogate, n_steps=15 if constant else None)
        results.append((spikes.detach(), current.grad.clone(), inference))
    (c_spikes, c_grad, c_inference), (t_spikes, t_grad, t_inference) = results
    assert 0 < c_spikes.mean() < 1
    torch.testing.assert_close(c_spikes, t_spikes, rtol=0, atol=0)
    torch.testing.assert_close(c_inference, t_inference, rtol=0, atol=0)
    torch.testing.assert_close(c_grad, t_grad)


@pytest.mark.parametrize("constant", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("use_c", [True, False])
def test_pooled_scan_equals_the_weighted_sum_of_the_scan(monkeypatch, constant, dtype, use_c):
    """lif_pooled gives sum_t w[t] * spikes[t] of lif_scan without keeping the spikes."""
    from pynmsnn import neurons
    from pynmsnn.neurons import lif_pooled

    monkeypatch.setattr(neurons, "USE_C_SCAN", use_c)
    generator = torch.Generator().manual_seed(2)
    current = torch.randn((6, 7) if constant else (15, 6, 7), generator=generator, dtype=dtype) * 0.8 + 0.5
    n_steps = 15 if constant else None
    weights = readout_weights(15, 0.8, dtype)
    spikes = lif_scan(current, 0.85, 1.0, 0.4, n_steps=n_steps)
    expected = torch.einsum("t,tij->ij", weights, spikes)
    pooled = lif_pooled(current, 0.85, 1.0, 0.4, weights, n_steps=n_steps)
    assert 0 < spikes.mean() < 1
    assert pooled.shape == (6, 7) and pooled.dtype == dtype
    torch.testing.assert_close(pooled, expected)


def test_network_inference_pools_in_the_scan_and_matches_the_training_path(monkeypatch):
    """At inference the last layer's spikes are pooled inside the scan: same output as with autograd on."""
    from pynmsnn import _events
    from pynmsnn.network import SpikingNetwork

    monkeypatch.setattr(_events, "USE_EVENT_INFERENCE", False)  # the dense path is under test

    net = SpikingNetwork(5, (12, 9), 3, n_steps=10, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(4.0)
    x = torch.rand(8, 5, generator=torch.Generator().manual_seed(1))
    net.eval()
    with torch.inference_mode():
        pooled_path = net(x)
    assert not net._pools_in_scan(1, x.requires_grad_(True), None)  # a graph needs every step's spikes
    torch.testing.assert_close(pooled_path, net.forward_reference(x).detach())


@pytest.mark.parametrize("source", ["constant", "sequence", "product"])
@pytest.mark.parametrize("pooled", [False, True])
def test_inference_between_bf16_matmuls_gives_the_scans_numbers(source, pooled):
    """lif_infer_bf16 reads and writes bfloat16 but computes what lif_scan / lif_pooled compute."""
    from pynmsnn.neurons import c_inference_applies, lif_infer_bf16, lif_pooled

    generator = torch.Generator().manual_seed(4)
    steps, bias = 12, None
    if source == "constant":
        current = torch.rand(5, 8, generator=generator) * 1.6
        reference_current, n_steps = current, steps
    elif source == "sequence":
        current = torch.rand(steps, 5, 8, generator=generator) * 1.6
        reference_current, n_steps = current, None
    else:  # a bfloat16 matmul product, its bias added in float32 after widening
        spikes = (torch.rand(steps, 5, 6, generator=generator) < 0.4).to(torch.bfloat16)
        weight = (torch.randn(8, 6, generator=generator) * 0.8).to(torch.bfloat16)
        bias = torch.randn(8, generator=generator) * 0.3 + 0.5
        current = torch.nn.functional.linear(spikes, weight)
        reference_current, n_steps = current.float().add_(bias), None
    if not c_inference_applies(reference_current):
        pytest.skip("needs the C scan")
    weights = readout_weights(steps, 0.85) if pooled else None
    result = lif_infer_bf16(current, 0.85, 1.0, 0.3, n_steps=n_steps, bias=bias, weights=weights)
    if pooled:
        expected = lif_pooled(reference_current, 0.85, 1.0, 0.3, weights, n_steps=n_steps)
        assert result.dtype == torch.float32
    else:
        expected = lif_scan(reference_current, 0.85, 1.0, 0.3, n_steps=n_steps).to(torch.bfloat16)
        assert result.dtype == torch.bfloat16 and 0 < expected.float().mean() < 1
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
