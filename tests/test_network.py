"""The network's fast path equals the step-by-step reference, outputs and gradients."""

import pytest
import torch

from pynmsnn import _kernels
from pynmsnn._engine import Engine, choose_engine, forced_engine
from pynmsnn.network import SpikingNetwork
from pynmsnn.neurons import LIFParameters

BF16 = Engine(scan="c" if _kernels.HAVE_C_SCAN else "torch", spike_matmul_dtype=torch.bfloat16)


def make_network(encoder, readout, hidden, seed=0, detach_reset=False, reset="subtract"):
    neuron = LIFParameters(decay=0.85, threshold=1.0, refractory_penalty=0.3, reset=reset, detach_reset=detach_reset)
    net = SpikingNetwork(
        6, hidden, 3, n_steps=9, neuron=neuron, encoder=encoder, readout=readout,
        generator=torch.Generator().manual_seed(seed),
    ).double()
    with torch.no_grad():  # stronger weights so that every layer fires
        for layer in net.layers:
            layer.weight.mul_(4.0)
    return net


@pytest.mark.parametrize("encoder", ["current", "noisy", "poisson", "latency"])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
@pytest.mark.parametrize("hidden", [(), (10,), (10, 8)])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fast_forward_and_gradients_equal_reference(encoder, readout, hidden, detach_reset, reset):
    net = make_network(encoder, readout, hidden, detach_reset=detach_reset, reset=reset)
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


@pytest.mark.parametrize("encoder", ["current", "poisson"])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_bfloat16_spike_matmuls_match_the_reference_in_the_same_precision(encoder, readout):
    """With spike_matmul_dtype=bfloat16 the fast path still equals the reference
    forward exactly (spikes are exact in bf16, sums in float32); gradients agree to
    bf16 rounding, since the two paths round partial sums differently."""
    net = make_network(encoder, readout, (10, 8)).float()
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    fast = net(x, generator=torch.Generator().manual_seed(3), engine=BF16)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    reference = net.forward_reference(x, generator=torch.Generator().manual_seed(3), engine=BF16)
    reference.sum().backward()
    torch.testing.assert_close(fast, reference)
    for fast_grad, parameter in zip(fast_grads, net.parameters()):
        scale = parameter.grad.abs().max().item() + 1e-6
        assert (fast_grad - parameter.grad).abs().max().item() <= 0.03 * scale


def test_spike_input_layers_use_the_low_precision_dtype():
    """Only layers fed by spikes are rounded: the first layer's constant current and
    the membrane readout stay float32."""
    net = make_network("current", "membrane", (10, 8)).float()
    x = torch.rand(4, 6)
    with torch.no_grad():
        exact = net.forward_reference(x, record=True)
        low = net.forward_reference(x, record=True, engine=BF16)
    torch.testing.assert_close(low.membranes[0], exact.membranes[0], rtol=0, atol=0)
    assert not torch.equal(low.membranes[1], exact.membranes[1])  # fed by spikes: rounded
    torch.testing.assert_close(low.membranes[1], exact.membranes[1], rtol=0.02, atol=0.02)


@pytest.mark.parametrize("hidden", [(12,), (12, 9), (12, 9, 7)])
def test_inference_between_bf16_matmuls_changes_no_number(monkeypatch, hidden):
    """Keeping the spikes in bfloat16 between layers at inference gives the same output, bit for bit."""
    from pynmsnn import network

    if not _kernels.HAVE_C_SCAN:
        pytest.skip("the scan between bfloat16 matmuls is in C")
    net = SpikingNetwork(5, hidden, 3, n_steps=10, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(3.0)
    x = torch.rand(33, 5, generator=torch.Generator().manual_seed(1))
    calls = []
    infer = network.lif_infer_bf16
    monkeypatch.setattr(network, "lif_infer_bf16", lambda *args, **kwargs: calls.append(1) or infer(*args, **kwargs))
    net.eval()
    with torch.inference_mode():
        fast = net(x, engine=BF16)
        assert len(calls) == len(hidden)  # every layer's scan ran between the matmuls
        plain = net(x, engine=BF16.replace(scan="torch"))  # the torch loop and float32 spikes
        assert len(calls) == len(hidden)
    torch.testing.assert_close(fast, plain, rtol=0, atol=0)


def test_a_forced_engine_holds_only_inside_its_block():
    net = make_network("current", "membrane", (10,)).float().eval()
    x = torch.rand(3, 6)
    with forced_engine(scan="torch", inference="dense", spike_matmul_dtype=torch.bfloat16):
        forced = choose_engine(net, x, training=False)
    assert (forced.scan, forced.inference, forced.spike_matmul_dtype) == ("torch", "dense", torch.bfloat16)
    assert choose_engine(net, x, training=False).spike_matmul_dtype is None
    with pytest.raises(TypeError, match="unknown fields.*'kernel'"):
        with forced_engine(kernel="avx2"):
            pass
    with pytest.raises(ValueError, match="inference='sparse'"):
        with forced_engine(inference="sparse"):
            pass


def test_config_rebuilds_the_same_network():
    net = make_network("poisson", "spikes", (10, 8), reset="zero").float()
    rebuilt = SpikingNetwork.from_config(net.get_config(), net.state_dict())
    assert rebuilt.neuron == net.neuron and rebuilt.get_config() == net.get_config()
    x = torch.rand(4, 6)
    with torch.inference_mode():
        torch.testing.assert_close(rebuilt.eval()(x), net.eval()(x), rtol=0, atol=0)
