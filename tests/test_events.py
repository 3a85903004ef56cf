"""Event-driven inference (pynmsnn/_events.py) computes what the dense path computes.

The networks here have dyadic weights, inputs and decay (multiples of powers of
two, few significant bits), so that every sum of the hidden layers is exact in
float32 whatever order it is added in: the event-driven path must then give the
dense path's spikes exactly, and outputs equal to float32 rounding of the readout.
"""

import numpy as np
import pytest
import torch

from pynmsnn import _events, _kernels
from pynmsnn._engine import Engine, choose_engine, forced_engine
from pynmsnn.network import SpikingNetwork
from pynmsnn.neurons import LIFParameters, readout_weights

pytestmark = pytest.mark.skipif(not _kernels.HAVE_EVENT_KERNEL, reason="the C extension is not built")


def dyadic_network(hidden, refractory_penalty=0.0, n_inputs=7, n_outputs=3, seed=0, scale=1.0, reset="subtract"):
    """Weights and biases k/128 with |k| < 256 (exact in bfloat16), decay 1/2, 5 steps.

    The threshold is 4, so that the sums of weights that reach it need more than
    bfloat16's 8 significant bits: the rounding of bfloat16 products is exercised.
    """
    generator = torch.Generator().manual_seed(seed)
    neuron = LIFParameters(decay=0.5, threshold=4.0, refractory_penalty=refractory_penalty, reset=reset)
    net = SpikingNetwork(n_inputs, hidden, n_outputs, n_steps=5, neuron=neuron, generator=generator)
    with torch.no_grad():
        for layer in net.layers:
            fan_in = layer.in_features
            for parameter in (layer.weight, layer.bias):
                values = torch.randn(parameter.shape, generator=generator) * scale * 1280 / fan_in**0.5
                parameter.copy_(values.round().clamp(-255, 255) / 128)
    return net.eval()


def dyadic_rows(n_rows, n_inputs=7, seed=1):
    """Rows of multiples of 1/16 in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 17, (n_rows, n_inputs), generator=generator).float() / 16


def event_and_dense(net, x, precision=None, kernel="auto"):
    """The output of ``net`` for ``x`` event-driven, then on the dense path."""
    engine = Engine(scan="c", inference="event", spike_matmul_dtype=precision, event_kernel=kernel)
    with torch.inference_mode():
        return net(x, engine=engine), net(x, engine=engine.replace(inference="dense"))


@pytest.fixture
def event_calls(monkeypatch):
    """A list that grows by one at each call of the C kernel."""
    calls = []
    kernel = _kernels.event_infer
    monkeypatch.setattr(_kernels, "event_infer", lambda *args, **kwargs: calls.append(args) or kernel(*args, **kwargs))
    return calls


@pytest.mark.parametrize("hidden", [(8,), (20, 17), (100, 17), (300, 40, 9)])
@pytest.mark.parametrize("precision", [None, torch.bfloat16])
@pytest.mark.parametrize("refractory_penalty", [0.0, 0.25])
@pytest.mark.parametrize("kernel", ["auto", "avx2", "portable"])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_event_driven_inference_equals_the_dense_path(hidden, precision, refractory_penalty, kernel, readout, reset,
                                                      event_calls):
    """Widths below, at and past the kernels' blocks of outputs; float32 and bfloat16; the
    kernel for the CPU's widest vectors, the AVX2 one (where the CPU has AVX2) and the portable
    one; the membrane readout and the spike-count one; both resets."""
    net = dyadic_network(hidden, refractory_penalty, reset=reset)
    net.readout = readout
    torch.testing.assert_close(*event_and_dense(net, dyadic_rows(70), precision, kernel))
    assert len(event_calls) == 1


@pytest.mark.parametrize("hidden", [(20, 17), (100, 17), (300, 40, 9)])
def test_hidden_layers_fire_in_the_comparison(hidden):
    """Guard for the test above: every hidden layer of its networks fires, and not always;
    a spiking readout fires too."""
    net = dyadic_network(hidden)
    record = net.forward_reference(dyadic_rows(70), record=True)
    assert all(0.02 < rate < 0.9 for rate in record.firing_rates.values())
    net.readout = "spikes"
    counts = net.forward_reference(dyadic_rows(70)).detach()
    assert 0 < counts.mean() < net.n_steps


def test_event_driven_inference_equals_the_step_by_step_reference(event_calls):
    net = dyadic_network((30, 20), 0.25)
    x = dyadic_rows(40)
    engine = Engine(scan="c", inference="event", spike_matmul_dtype=torch.bfloat16)
    with torch.inference_mode():
        event = net(x, engine=engine)
        reference = net.forward_reference(x, engine=engine)
    assert len(event_calls) == 1
    torch.testing.assert_close(event, reference)


@pytest.mark.parametrize("scale", [0.0, 30.0])
def test_silent_and_saturated_networks(scale, event_calls):
    """No neuron fires (zero weights) / nearly every neuron fires at every step."""
    net = dyadic_network((40, 24), scale=scale)
    with torch.no_grad():
        net.hidden[0].bias.fill_(1.5 if scale else 0.0)
    torch.testing.assert_close(*event_and_dense(net, dyadic_rows(50)))
    assert len(event_calls) == 1


@pytest.mark.parametrize("precision", [None, torch.bfloat16])
def test_a_rows_output_depends_on_nothing_else(precision):
    """The same row gives the same bits alone, in any batch, and with any number of threads."""
    net = dyadic_network((64, 48))
    x = torch.rand(257, 7, generator=torch.Generator().manual_seed(5))  # not dyadic: order matters here
    kwargs = dict(neuron=net.neuron, spike_matmul_dtype=precision)
    weights = readout_weights(net.n_steps, net.neuron.decay)
    with torch.inference_mode():
        outputs = [_events.event_forward(net.hidden, net.output, x, weights, n_threads=n, **kwargs) for n in (1, 2, 3)]
        alone = torch.cat([_events.event_forward(net.hidden, net.output, x[i : i + 1], weights, **kwargs) for i in range(0, 257, 32)])
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[0], outputs[2])
    assert torch.equal(alone, outputs[0][::32])


def test_where_the_dense_path_runs_instead(event_calls):
    """Training, firing rates, the latency encoder and float64 are left to the dense path."""
    net = dyadic_network((20, 17))
    x = dyadic_rows(20)
    net(x)  # autograd on: training
    net.forward_with_rates(x)
    with torch.inference_mode():
        dyadic_network((20, 17)).double()(x.double())
        net.encoder = "latency"
        net(x)
        assert choose_engine(net, x, training=False).inference == "dense"
    assert event_calls == []


def test_the_kernel_refuses_wrong_arguments_by_name():
    """Every tensor handed to C is checked: a wrong device, dtype, shape or stride is a Python error."""
    net = dyadic_network((20, 17))
    x = dyadic_rows(20)
    weights = readout_weights(net.n_steps, 0.5)
    run = lambda rows, **kw: _events.event_forward(net.hidden, net.output, rows, weights, net.neuron,  # noqa: E731
                                                   spike_matmul_dtype=None, **kw)
    with pytest.raises(TypeError, match="x has dtype torch.float64"):
        run(x.double())
    with pytest.raises(ValueError, match=r"x has shape \(20,\)"):
        run(x[:, 0].contiguous())
    with pytest.raises(ValueError, match=r"weights\[0\] has shape"):
        run(dyadic_rows(20)[:, :5].contiguous())
    with pytest.raises(ValueError, match="x is on meta"):
        run(x.to("meta"))
    with pytest.raises(ValueError, match="kernel='sse'"):
        run(x, kernel="sse")


def test_noisy_and_poisson_encoders_run_event_driven_at_inference(event_calls):
    """At inference a random encoder is its expected current, a constant: event-driven too."""
    for encoder in ("noisy", "poisson"):
        net = dyadic_network((20, 17))
        net.encoder = encoder
        assert choose_engine(net, dyadic_rows(30), training=False).inference == "event"
        torch.testing.assert_close(*event_and_dense(net, dyadic_rows(30)))
    assert len(event_calls) == 2


def test_event_driven_pays_weighs_each_layer_by_the_weights_it_feeds():
    """Below the break-even rate event-driven, above it dense; float32 matmuls and unknown rates: event-driven."""
    from pynmsnn._events import BFLOAT16_BREAK_EVEN_RATE as EVEN

    low = torch.bfloat16
    assert _events.event_driven_pays([256, 256], [EVEN, 0.9], low)  # the last layer feeds no spike-fed layer
    assert not _events.event_driven_pays([256, 256], [EVEN + 0.01, 0.0], low)
    # 100 * 300 weights fed at rate 0 and 300 * 10 at rate 1: mean rate 3000 / 33000.
    assert _events.event_driven_pays([100, 300, 10], [0.0, 1.0, 0.5], low)
    assert not _events.event_driven_pays([10, 300, 100], [0.0, 1.0, 0.5], low)
    assert _events.event_driven_pays([256, 256], [0.9, 0.9], None)
    assert _events.event_driven_pays([256, 256], None, low)
    assert _events.event_driven_pays([256], [0.9], low)  # no spike-fed layer


def test_fit_records_firing_rates_that_choose_the_inference_path(event_calls):
    """fit keeps the training data's firing rates; predict runs dense when they are above break-even."""
    from sklearn.datasets import load_iris

    from pynmsnn import SNNClassifier
    from pynmsnn.activity import SAMPLE_ROWS, hidden_rates

    X, y = load_iris(return_X_y=True)
    assert len(X) <= SAMPLE_ROWS
    clf = SNNClassifier((16, 12), n_steps=6, max_iter=5, precision="bfloat16", random_state=0).fit(X, y)
    rates = clf.firing_rates_
    assert list(rates) == ["hidden 1", "hidden 2"] and all(0 <= rate <= 1 for rate in rates.values())
    # Iris is smaller than the sample that fit measures on: the rates of every training row
    # (its two identical rows train as one).
    distinct = np.unique(X, axis=0)
    assert list(rates.values()) == pytest.approx(hidden_rates(clf, clf._prepare_X_fitted(distinct)).tolist())
    event_calls.clear()
    clf.firing_rates_ = {"hidden 1": 0.05, "hidden 2": 0.5}
    expected = clf.predict_proba(X)
    assert len(event_calls) == 1
    clf.firing_rates_ = {"hidden 1": 0.5, "hidden 2": 0.5}
    dense = clf.predict_proba(X)
    assert len(event_calls) == 1  # dense this time
    assert (expected.argmax(1) == dense.argmax(1)).mean() >= 0.98
