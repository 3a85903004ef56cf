"""The network's fast path equals the step-by-step reference, outputs and gradients."""

import pytest
import torch

from pynmsnn.network import SpikingNetwork


def make_network(encoder, readout, hidden, seed=0):
    net = SpikingNetwork(
        6, hidden, 3, n_steps=9, decay=0.85, threshold=1.0, refractory_penalty=0.3,
        encoder=encoder, readout=readout, generator=torch.Generator().manual_seed(seed),
    ).double()
    with torch.no_grad():  # stronger weights so that every layer fires
        for layer in net.layers:
            layer.weight.mul_(4.0)
    return net


@pytest.mark.parametrize("encoder", ["current", "noisy", "poisson", "latency"])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
@pytest.mark.parametrize("hidden", [(), (10,), (10, 8)])
def test_fast_forward_and_gradients_equal_reference(encoder, readout, hidden):
    net = make_network(encoder, readout, hidden)
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    upstream = torch.randn(5, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    fast = net(x, generator=torch.Generator().manual_seed(3))
    (fast * upstream).sum().backward()
    fast_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    reference = net.forward_reference(x, generator=torch.Generator().manual_seed(3))
    (reference * upstream).sum().backward()

    torch.testing.assert_close(fast, reference)
    for fast_grad, parameter in zip(fast_grads, net.parameters()):
        torch.testing.assert_close(fast_grad, parameter.grad)


def test_hidden_layers_fire_in_the_comparison():
    """Guard for the test above: its networks are not silent."""
    net = make_network("current", "membrane", (10, 8))
    record = net.forward_reference(torch.rand(5, 6, dtype=torch.float64), record=True)
    assert all(0 < rate < 1 for rate in record.firing_rates.values())


def test_eval_mode_uses_expected_current_for_random_encoders():
    """At inference 'noisy' behaves as a constant current of x / 2, deterministically."""
    noisy = make_network("noisy", "membrane", (10,)).eval()
    current = make_network("current", "membrane", (10,)).eval()
    x = torch.rand(4, 6, dtype=torch.float64)
    torch.testing.assert_close(noisy(x), current(x / 2))


def test_record_shapes_and_names():
    net = make_network("latency", "spikes", (10, 8))
    record = net.forward_reference(torch.rand(4, 6, dtype=torch.float64), record=True)
    assert record.layer_names == ["hidden 1", "hidden 2", "output"]
    assert [s.shape for s in record.spikes] == [(9, 4, 10), (9, 4, 8), (9, 4, 3)]
    assert [m.shape for m in record.membranes] == [(9, 4, 10), (9, 4, 8), (9, 4, 3)]
    torch.testing.assert_close(record.output, record.spikes[-1].sum(0))


def test_construction_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SpikingNetwork(5, (7,), 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(3), expected)
