"""Every backend computes the reference neuron: one golden test per path, over the neuron settings.

The reference is :func:`pynmsnn.neurons.lif_step` run step by step through
autograd (:func:`lif_reference`, :meth:`SpikingNetwork.forward_reference`).
Each faster path -- the C scan and the torch loop with their hand-written
backward, the scan of several members each with its own neuron, the pooled
scan, the scan between bfloat16 matmuls, the dense
inference path and event-driven inference -- must give the same spikes and
membranes, and gradients within float tolerance, for every neuron setting.
Network-level paths use dyadic weights and inputs (few significant bits), so
that every sum is exact in float32 whatever order it is added in, and the
outputs must be equal, not merely close.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from pynmsnn import _kernels
from pynmsnn._engine import Engine, choose_engine
from pynmsnn.network import SpikingNetwork
from pynmsnn.neurons import LIFParameters, _scan_forward, lif_infer_bf16, lif_pooled, lif_reference, lif_scan
from pynmsnn.neurons import lif_scan_members
from pynmsnn.neurons import readout_weights
from pynmsnn.surrogate import SURROGATES

# Each value of each setting appears at least once, the resets with and
# without a penalty, a detached reset and every surrogate.
NEURONS = [
    LIFParameters(decay=0.9, threshold=1.0, reset="subtract"),
    LIFParameters(decay=0.9, threshold=1.0, reset="zero"),
    LIFParameters(decay=0.5, threshold=0.75, refractory_penalty=0.5, reset="zero", surrogate="atan"),
    LIFParameters(decay=0.5, threshold=0.75, refractory_penalty=0.5, reset="subtract", surrogate="triangle"),
    LIFParameters(decay=0.0, threshold=1.0, reset="zero", surrogate="sigmoid"),
    LIFParameters(decay=1.0, threshold=1.0, refractory_penalty=0.25, reset="subtract", detach_reset=True),
    LIFParameters(decay=0.5, threshold=1.0, refractory_penalty=0.25, reset="zero", detach_reset=True,
                  surrogate="atan"),
]
NEURON_IDS = [
    f"{n.reset}-d{n.decay}-t{n.threshold}-p{n.refractory_penalty}-{n.surrogate}{'-detach' if n.detach_reset else ''}"
    for n in NEURONS
]
SCANS = ["torch"] + (["c"] if _kernels.HAVE_C_SCAN else [])
needs_c = pytest.mark.skipif(not _kernels.HAVE_C_SCAN, reason="the C kernel is not built")
needs_events = pytest.mark.skipif(not _kernels.HAVE_EVENT_KERNEL, reason="the event-driven kernel is not built")


def test_the_settings_cover_every_surrogate_and_reset():
    assert {n.surrogate for n in NEURONS} == set(SURROGATES)
    assert {(n.reset, n.refractory_penalty > 0, n.detach_reset) for n in NEURONS} >= {
        ("subtract", False, False), ("subtract", True, False), ("zero", False, False), ("zero", True, False),
        ("subtract", True, True), ("zero", True, True),
    }


def _current(constant, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (4, 5) if constant else (12, 4, 5)
    return torch.randn(shape, generator=generator, dtype=dtype) * 0.7 + 0.6


@pytest.mark.parametrize("neuron", NEURONS, ids=NEURON_IDS)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("constant", [False, True], ids=["sequence", "constant"])
def test_scan_forward_and_backward_equal_the_reference(neuron, scan, constant):
    """Spikes and membranes equal, the hand-written gradient equal to autograd through lif_step."""
    current = _current(constant).requires_grad_(True)
    upstream = torch.randn((12, 4, 5), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    over_time = current.unsqueeze(0).expand(12, 4, 5) if constant else current

    reference_spikes, reference_membrane = lif_reference(over_time, neuron)
    (reference_spikes * upstream).sum().backward()
    reference_grad, current.grad = current.grad.clone(), None

    spikes = lif_scan(current, neuron, 12 if constant else None, backend=scan)
    (spikes * upstream).sum().backward()
    membrane, inference_spikes = torch.empty(12, 4, 5, dtype=torch.float64), torch.empty(12, 4, 5, dtype=torch.float64)
    _scan_forward(current.detach(), constant, membrane, inference_spikes, neuron, scan)

    assert 0 < reference_spikes.mean() < 1  # the comparison covers firing and silent steps
    torch.testing.assert_close(spikes.detach(), reference_spikes.detach(), rtol=0, atol=0)
    torch.testing.assert_close(inference_spikes, reference_spikes.detach(), rtol=0, atol=0)
    torch.testing.assert_close(membrane, reference_membrane.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(current.grad, reference_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("constant", [False, True], ids=["sequence", "constant"])
@pytest.mark.parametrize("threads", [1, 2])
def test_member_scan_equals_the_reference_of_each_member(scan, constant, threads):
    """lif_scan_members: every member's spikes and gradient are the reference's with that member's neuron."""
    n_members = len(NEURONS)
    currents = torch.stack([_current(constant, seed=m) for m in range(n_members)]).requires_grad_(True)
    upstream = torch.randn((n_members, 12, 4, 5), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with ThreadPoolExecutor(threads) as executor:
        spikes = lif_scan_members(currents, NEURONS, 12 if constant else None, backend=scan,
                                  executor=executor, shares=threads)
        (spikes * upstream).sum().backward()
        inference = lif_scan_members(currents.detach(), NEURONS, 12 if constant else None, backend=scan)
    for m, neuron in enumerate(NEURONS):
        current = currents[m].detach().clone().requires_grad_(True)
        over_time = current.unsqueeze(0).expand(12, 4, 5) if constant else current
        reference_spikes, _ = lif_reference(over_time, neuron)
        (reference_spikes * upstream[m]).sum().backward()
        assert 0 < reference_spikes.mean() < 1, NEURON_IDS[m]
        torch.testing.assert_close(spikes[m].detach(), reference_spikes.detach(), rtol=0, atol=0)
        torch.testing.assert_close(inference[m], reference_spikes.detach(), rtol=0, atol=0)
        torch.testing.assert_close(currents.grad[m], current.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("constant", [False, True], ids=["sequence", "constant"])
def test_pooled_member_scan_equals_the_reference_of_each_member(scan, constant):
    """With pooled_by, each member's time-weighted spike sum and its gradient are the reference's, twice."""
    n_members = len(NEURONS)
    currents = torch.stack([_current(constant, seed=m) for m in range(n_members)]).requires_grad_(True)
    weights = torch.stack([readout_weights(12, n.decay, torch.float64) for n in NEURONS])
    upstream = torch.randn((n_members, 4, 5), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    workspace = {}  # buffers reused from call to call
    for _ in range(2):
        currents.grad = None
        pooled = lif_scan_members(currents, NEURONS, 12 if constant else None, backend=scan, pooled_by=weights,
                                  workspace=workspace)
        (pooled * upstream).sum().backward()
    for m, neuron in enumerate(NEURONS):
        current = currents[m].detach().clone().requires_grad_(True)
        over_time = current.unsqueeze(0).expand(12, 4, 5) if constant else current
        reference_spikes, _ = lif_reference(over_time, neuron)
        reference = torch.einsum("t,tij->ij", weights[m], reference_spikes)
        (reference * upstream[m]).sum().backward()
        torch.testing.assert_close(pooled[m].detach(), reference.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(currents.grad[m], current.grad, rtol=1e-10, atol=1e-10)


def test_member_scan_wants_one_neuron_per_member():
    with pytest.raises(ValueError, match="3 members but 2 neurons"):
        lif_scan_members(torch.zeros(3, 4, 5), NEURONS[:2], n_steps=6)


@pytest.mark.parametrize("neuron", NEURONS, ids=NEURON_IDS)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pooled_scan_equals_the_reference(neuron, scan, dtype):
    """lif_pooled gives sum_t w[t] * spikes[t] of the reference without keeping the spikes."""
    current = _current(False, dtype)
    weights = readout_weights(12, 0.8, dtype)
    spikes, _ = lif_reference(current, neuron)
    pooled = lif_pooled(current, neuron, weights, backend=scan)
    torch.testing.assert_close(pooled, torch.einsum("t,tij->ij", weights, spikes))


@needs_c
@pytest.mark.parametrize("neuron", NEURONS, ids=NEURON_IDS)
@pytest.mark.parametrize("source", ["constant", "sequence", "product"])
@pytest.mark.parametrize("pooled", [False, True])
def test_scan_between_bf16_matmuls_equals_the_reference(neuron, source, pooled):
    """lif_infer_bf16 reads and writes bfloat16 but fires as the reference does."""
    generator = torch.Generator().manual_seed(4)
    steps, bias, n_steps = 12, None, None
    if source == "constant":
        current, n_steps = torch.rand(5, 8, generator=generator) * 1.6, steps
        over_time = current.unsqueeze(0).expand(steps, 5, 8)
    elif source == "sequence":
        current = over_time = torch.rand(steps, 5, 8, generator=generator) * 1.6
    else:  # a bfloat16 matmul product, its bias added in float32 after widening
        spikes = (torch.rand(steps, 5, 6, generator=generator) < 0.4).to(torch.bfloat16)
        weight = (torch.randn(8, 6, generator=generator) * 0.8).to(torch.bfloat16)
        bias = torch.randn(8, generator=generator) * 0.3 + 0.5
        current = torch.nn.functional.linear(spikes, weight)
        over_time = current.float().add_(bias)
    weights = readout_weights(steps, 0.85) if pooled else None
    result = lif_infer_bf16(current, neuron, n_steps=n_steps, bias=bias, weights=weights)
    expected, _ = lif_reference(over_time, neuron)
    if pooled:
        torch.testing.assert_close(result, torch.einsum("t,tij->ij", weights, expected))
    else:
        assert result.dtype == torch.bfloat16
        torch.testing.assert_close(result, expected.to(torch.bfloat16), rtol=0, atol=0)


# ------------------------------------------------------------- network paths
def dyadic_network(neuron, hidden=(16, 12), readout="membrane", seed=0):
    """Weights and biases k/64 (exact in bfloat16), 6 steps: every sum exact in float32."""
    generator = torch.Generator().manual_seed(seed)
    net = SpikingNetwork(7, hidden, 3, n_steps=6, neuron=neuron, readout=readout, generator=generator)
    with torch.no_grad():
        for layer in net.layers:
            for parameter in (layer.weight, layer.bias):
                values = torch.randn(parameter.shape, generator=generator) * 64 / layer.in_features**0.5
                parameter.copy_(values.round().clamp(-127, 127) / 64)
    return net.eval()


def dyadic_rows(n_rows=40, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 17, (n_rows, 7), generator=generator).float() / 16


# Dyadic neurons: decay, threshold and penalty with few bits, so membranes stay exact.
DYADIC_NEURONS = [n for n in NEURONS if n.decay in (0.0, 0.5, 1.0)]
DYADIC_IDS = [i for n, i in zip(NEURONS, NEURON_IDS) if n.decay in (0.0, 0.5, 1.0)]

ENGINES = {
    "dense-torch": dict(scan="torch", inference="dense"),
    "dense-c": dict(scan="c", inference="dense"),
    "dense-c-bf16": dict(scan="c", inference="dense", spike_matmul_dtype=torch.bfloat16),
    "event": dict(scan="c", inference="event"),
    "event-bf16": dict(scan="c", inference="event", spike_matmul_dtype=torch.bfloat16),
    "event-avx2": dict(scan="c", inference="event", event_kernel="avx2"),
    "event-portable": dict(scan="c", inference="event", event_kernel="portable"),
}


def _engine(name):
    fields = ENGINES[name]
    if fields["scan"] == "c" and not _kernels.HAVE_C_SCAN:
        pytest.skip("the C kernel is not built")
    if fields["inference"] == "event" and not _kernels.HAVE_EVENT_KERNEL:
        pytest.skip("the event-driven kernel is not built")
    return Engine(**fields)


@pytest.mark.parametrize("neuron", DYADIC_NEURONS, ids=DYADIC_IDS)
@pytest.mark.parametrize("engine_name", sorted(ENGINES))
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_inference_paths_equal_the_step_by_step_reference(neuron, engine_name, readout):
    """Dense, bfloat16 and event-driven inference give forward_reference's output exactly."""
    engine = _engine(engine_name)
    net = dyadic_network(neuron, readout=readout)
    x = dyadic_rows()
    with torch.inference_mode():
        output = net(x, engine=engine)
        record = net.forward_reference(x, record=True, engine=engine)
    hidden_rates = [float(s.mean()) for s in record.spikes[:-1]]
    assert all(0 < rate < 1 for rate in hidden_rates), hidden_rates  # firing and silent neurons
    torch.testing.assert_close(output, record.output, rtol=1e-6, atol=1e-5)
    if readout == "spikes":  # counts are integers: equal, not close
        torch.testing.assert_close(output, record.output, rtol=0, atol=0)


@pytest.mark.parametrize("neuron", NEURONS, ids=NEURON_IDS)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
@pytest.mark.parametrize("encoder", ["current", "poisson"])
def test_training_path_and_its_gradients_equal_the_reference(neuron, scan, readout, encoder):
    """The layer-at-a-time training path equals forward_reference, output and every weight gradient."""
    net = SpikingNetwork(5, (9, 7), 3, n_steps=8, neuron=neuron, readout=readout, encoder=encoder,
                         generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(3.0)
    x = torch.rand(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    engine = Engine(scan=scan)
    results = []
    for forward in (net.forward, net.forward_reference):
        net.zero_grad()
        output = forward(x, generator=torch.Generator().manual_seed(2), engine=engine)
        (output * torch.linspace(-1, 1, output.numel(), dtype=torch.float64).view_as(output)).sum().backward()
        results.append((output.detach(), [p.grad.clone() for p in net.parameters()]))
    (fast, fast_grads), (reference, reference_grads) = results
    torch.testing.assert_close(fast, reference)
    for fast_grad, reference_grad in zip(fast_grads, reference_grads):
        torch.testing.assert_close(fast_grad, reference_grad)


def test_the_engine_is_chosen_from_the_data_and_hardware():
    """Training never runs event-driven; float64 rows, or a latency encoder, infer on the dense path."""
    net = dyadic_network(NEURONS[0])
    x = dyadic_rows()
    assert choose_engine(net, x, training=True).inference == "dense"
    assert choose_engine(net, x.double(), training=False).inference == "dense"
    latency = SpikingNetwork(7, (4,), 3, encoder="latency")
    assert choose_engine(latency, x, training=False).inference == "dense"
    expected = "event" if _kernels.HAVE_EVENT_KERNEL else "dense"
    assert choose_engine(net, x, training=False).inference == expected
    assert choose_engine(net, x, training=False).scan == ("c" if _kernels.HAVE_C_SCAN else "torch")
